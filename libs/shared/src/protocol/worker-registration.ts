import { z } from 'zod';

/**
 * What a live worker says about itself, every tick, in keys.worker(id) with a TTL: the fleet's view of
 * who is there (`reins workers`, the board, routing by labels).
 */
export const WorkerRegistrationSchema = z.object({
  workerId: z.string(),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.number(),
  slots: z.number().int().nonnegative(),
  used: z.number().int().nonnegative(),
  /** The worker's lifecycle state: running, draining, … */
  state: z.string(),
  /** The reins version the worker runs. */
  version: z.string().optional(),
  /** What the host offers, for routing: gpu, repo-x, region-eu. */
  labels: z.array(z.string()).optional(),
});
export type WorkerRegistration = z.infer<typeof WorkerRegistrationSchema>;
