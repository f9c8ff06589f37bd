#!/usr/bin/env node
// The `reins` command. Compiled by the root `prepare` script (tsc -b), so `npx reins` works after `npm install`.
await import('../dist/main.js');
