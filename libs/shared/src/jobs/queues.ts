import { Queue } from 'bullmq';
import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import type { QueueName } from './catalogue.js';

/**
 * Finished jobs are kept for a week (and at most 10 000), so `reins status`, the board and the
 * scheduler's reconciler can still read a result long after the worker reported it.
 */
export const KEEP_FINISHED_JOBS = { age: 7 * 24 * 3600, count: 10_000 } as const;

/** A job's log keeps its newest lines: a chatty agent once wrote 581 lines in 15 s, with no end. */
export const KEEP_JOB_LOG_LINES = 1_000;

/**
 * `readOnly` queues skip BullMQ's meta write on open, so read commands (`reins status`) leave Redis
 * exactly as they found it.
 */
export function openQueue(name: QueueName | string, connection: RedisConnection, keys: Keys, { readOnly = false } = {}): Queue {
  return new Queue(name, {
    connection,
    prefix: keys.bullPrefix,
    skipMetasUpdate: readOnly,
    defaultJobOptions: { removeOnComplete: KEEP_FINISHED_JOBS, removeOnFail: KEEP_FINISHED_JOBS, keepLogs: KEEP_JOB_LOG_LINES },
  });
}
