import { z } from 'zod';

/**
 * Everything about one attempt that outlives the worker process, kept in the attempt folder as meta.json:
 * a restarted worker reads it to adopt the tmux session it left behind.
 */
export const AttemptMetaSchema = z.object({
  jobId: z.string(),
  /** The queue the job is on (a pool queue when the member requires labels). */
  queue: z.string(),
  runId: z.string(),
  member: z.string(),
  attempt: z.number().int().positive(),
  epoch: z.number().int().positive(),
  /** The BullMQ lock token: a restarted worker can go on holding the job only with it. */
  token: z.string(),
  sessionName: z.string(),
  attemptDir: z.string(),
  home: z.string(),
  workspace: z.object({
    kind: z.enum(['git-worktree', 'workdir', 'scratch']),
    path: z.string(),
    branch: z.string().optional(),
    /** With a harness repo: the host's mirror the worktree was made from (checkpoints are pushed through it). */
    mirror: z.object({ dir: z.string(), url: z.string() }).optional(),
  }),
  sessionId: z.string().optional(),
  /** The Claude account the agent runs under (its name: the secrets stay in the worker's accounts). */
  account: z.string().optional(),
  /** The user the agent runs as, when not the worker's own (apps/worker/src/agent-users.ts): an adopter keeps it. */
  agentUser: z.object({ name: z.string(), uid: z.number().int(), gid: z.number().int() }).optional(),
  /** The agent's socket to this worker and its token (attempt/agent-socket.ts): served again after a restart. */
  channel: z.object({ path: z.string(), token: z.string() }).optional(),
  startedAt: z.number(),
});
export type AttemptMeta = z.infer<typeof AttemptMetaSchema>;
