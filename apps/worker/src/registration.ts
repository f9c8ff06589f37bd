import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot, type WorkerRegistration } from '@reins/shared';

/** The version workers register with, from the project's package.json. */
const REINS_VERSION = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** What a worker says about itself every tick (`<prefix>:worker:<id>`, with the heartbeat TTL). */
export const workerRegistration = (worker: Omit<WorkerRegistration, 'version' | 'pid'>): WorkerRegistration => ({ ...worker, pid: process.pid, version: REINS_VERSION });
