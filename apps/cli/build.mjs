#!/usr/bin/env node
// Bundles the compiled CLI (dist/main.js and everything it imports, packages included) into one CommonJS
// file, dist/bundle/reins-<hash>.cjs, which bin/reins.js runs with a V8 code cache. Measured on a 2-core
// machine: `reins submit` took 330 ms from the 250 ES modules tsc leaves, 170 ms from the bundle, and
// 110 ms from the bundle with its code cache (Node 20 has no compile cache for ES modules; a CommonJS
// script compiled with vm.Script can take one). Run by `npm run build`, after `tsc -b`.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const cliDir = path.dirname(fileURLToPath(import.meta.url));
const bundleDir = path.join(cliDir, 'dist', 'bundle');

const result = await build({
  entryPoints: [path.join(cliDir, 'dist', 'main.js')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  write: false,
  outfile: path.join(bundleDir, 'reins.cjs'),
  // Identifiers keep their names: error messages and zod's issues quote some of them.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  // CommonJS has no import.meta; the bundle's own URL stands in (libs/shared finds its folders through
  // Node's resolution, never from where its code sits).
  define: { 'import.meta.url': '__reinsBundleUrl' },
  banner: { js: "const __reinsBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

const code = result.outputFiles[0].contents;
// The code cache is keyed by this hash: V8 checks a cache only against its source's length.
const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
const file = `reins-${hash}.cjs`;
mkdirSync(bundleDir, { recursive: true });
// Through renames: a `reins` started meanwhile runs the old bundle or the new one, never half of one.
const write = (name, data) => {
  const tmp = path.join(bundleDir, `.${name}.${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path.join(bundleDir, name));
};
write(file, code);
write('entry.json', `${JSON.stringify({ file, hash })}\n`);
for (const name of readdirSync(bundleDir)) {
  if (name !== file && name !== 'entry.json' && !name.startsWith(`reins-${hash}.`) && !name.endsWith('.tmp')) rmSync(path.join(bundleDir, name), { force: true });
}
