#!/usr/bin/env node
// The reins-scheduler entry point (compiled by the root `prepare` script, tsc -b). Other apps start it through its package.json "bin", never by path.
await import('../dist/main.js');
