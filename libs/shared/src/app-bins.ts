import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';

const require = createRequire(import.meta.url);

/** The reins apps. Each is its own package with its own entry points, declared in its package.json "bin". */
export type AppName = 'cli' | 'scheduler' | 'worker' | 'board';

const ManifestSchema = z.object({ bin: z.record(z.string(), z.string()) });

/**
 * The file behind one of an app's entry points, as its package.json "bin" declares it. Apps never import
 * each other: one that must start another's program (the CLI starting a role or the planner, the worker
 * putting `reins` on an agent's PATH) finds it here, through npm's own declaration, not by rewriting paths.
 */
export function appBin(app: AppName, bin: string): string {
  const manifest = require.resolve(`@reins/${app}/package.json`);
  const declared = ManifestSchema.parse(JSON.parse(readFileSync(manifest, 'utf8'))).bin[bin];
  if (!declared) throw new Error(`@reins/${app} declares no bin named ${bin} in ${manifest}`);
  return path.resolve(path.dirname(manifest), declared);
}
