#!/usr/bin/env node
// The `reins` command. It runs the CLI's bundle (apps/cli/build.mjs, made by `npm run build` and the root
// `prepare` script) compiled with a V8 code cache, one per command, kept beside the bundle: most of a short
// command's time was Node compiling its modules. A cache V8 rejects (another Node) is written again; where
// the folder is not writable (an agent's user, a read-only install) the command runs without one.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const bundleDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bundle');
let entry;
try {
  entry = JSON.parse(readFileSync(path.join(bundleDir, 'entry.json'), 'utf8'));
} catch (error) {
  console.error(`reins: the CLI is not built (${error.code ?? error.message} on ${path.join(bundleDir, 'entry.json')}); run \`npm run build\``);
  process.exit(1);
}
const file = path.join(bundleDir, entry.file);
const argv = process.argv.slice(2);
// Only a plain command name names a cache file.
const cacheFile = /^[a-z]{1,20}$/.test(argv[0] ?? '') ? path.join(bundleDir, `reins-${entry.hash}.${argv[0]}.v8cache`) : undefined;
let cachedData;
try {
  if (cacheFile) cachedData = readFileSync(cacheFile);
} catch {}

const source = readFileSync(file, 'utf8');
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: file,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, bundleDir);
const code = await module.exports.main(argv);

// After the command ran, so the cache holds the functions it compiled on the way.
if (cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
  try {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, cacheFile);
  } catch {}
}
// Exit explicitly: open Redis handles must not keep a finished command alive. Writes to pipes
// and files are synchronous on Linux, so nothing printed is lost.
process.exit(code);
