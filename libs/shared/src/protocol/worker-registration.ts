import { z } from 'zod';

/**
 * What a live worker says about itself, every tick, in keys.worker(id) with a TTL: the fleet's view of
 * who is there (`reins workers`, the board, routing by labels).
 */
export const WorkerRegistrationSchema = z.object({
  workerId: z.string(),
  host: z.string(),
  pid: z.number().int(),
  /**
   * A random token of the worker process: the id is claimed with SET NX, and a worker refreshes (or
   * deletes) only a registration with its own token (lua/worker-tick-2.lua). Absent from older workers.
   */
  instance: z.string().optional(),
  startedAt: z.number(),
  slots: z.number().int().nonnegative(),
  used: z.number().int().nonnegative(),
  /** The worker's lifecycle state: running, degraded (takes no jobs: its data dir's disk is low), draining, … */
  state: z.string(),
  /** Why the worker is in its state, for people: what a degraded worker lacks. */
  reason: z.string().optional(),
  /** Free bytes in the worker's data dir (as an unprivileged user may use them), as last measured. */
  diskFreeBytes: z.number().int().nonnegative().optional(),
  /** The reins version the worker runs. */
  version: z.string().optional(),
  /** What the host offers, for routing: gpu, repo-x, region-eu. */
  labels: z.array(z.string()).optional(),
  /** The Claude accounts it holds credentials for (names only). */
  accounts: z.array(z.string()).optional(),
  /** The user the worker runs as, and the user its agents run as (REINS_AGENT_USER): the same one means agents can read the worker. */
  user: z.string().optional(),
  agentUser: z.string().optional(),
});
export type WorkerRegistration = z.infer<typeof WorkerRegistrationSchema>;
