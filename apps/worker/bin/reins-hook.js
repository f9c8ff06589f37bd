#!/usr/bin/env node
// The heartbeat hook Claude Code runs around each tool call (compiled by the root `prepare` script, tsc -b). The worker installs a wrapper that starts it through this "bin" entry.
await import('../dist/hook.js');
