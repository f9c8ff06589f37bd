import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The repository root, found from this file's place in it (libs/shared/{src,dist}/paths.*).
 * Used for the project's own node_modules/.bin/claude and skills/ folder.
 */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
