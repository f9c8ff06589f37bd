import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * This package's folder (libs/shared), found the way Node finds any package, not from this file's place:
 * the CLI runs from a bundle (apps/cli/build.mjs) where this code no longer sits in libs/shared/dist.
 */
export const sharedDir = path.dirname(createRequire(import.meta.url).resolve('@reins/shared/package.json'));

/** The repository root. Used for the project's own node_modules/.bin/claude, skills/ and plugin/ folders. */
export const projectRoot = path.resolve(sharedDir, '../..');
