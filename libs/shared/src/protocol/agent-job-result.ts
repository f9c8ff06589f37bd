import { z } from 'zod';

/** What an agent job completes with in BullMQ; Bull Board shows it and the scheduler settles from it. */
export const AgentJobResultSchema = z.object({
  status: z.literal('succeeded'),
  summary: z.string(),
  exitCode: z.number().int().nullable(),
  sessionId: z.string().optional(),
  costUsd: z.number().optional(),
  numTurns: z.number().int().optional(),
  /** The member's tokens over all its attempts (input, output, cache). */
  tokens: z.number().int().nonnegative().optional(),
  durationMs: z.number(),
  workspace: z.string(),
});
export type AgentJobResult = z.infer<typeof AgentJobResultSchema>;

/** What a merge-back job completes with. */
export const IntegrationResultSchema = z.object({
  resultBranch: z.string(),
  resultCommit: z.string(),
  /** Members whose branch could not be merged, with the conflicting files. */
  conflicts: z.array(z.object({ member: z.string(), files: z.array(z.string()) })),
});
export type IntegrationResult = z.infer<typeof IntegrationResultSchema>;
