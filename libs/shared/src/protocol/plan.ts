import { TeamSchema, type Member } from '../spec/harness.js';

/**
 * The planner's validated team, as the worker stores it on the planner member (`plan`, JSON) and the
 * scheduler reads it back to let the team join the run.
 */
export const StoredPlanSchema = TeamSchema;

export const encodePlan = (team: readonly Member[]): string => JSON.stringify(team);

/** The stored team; throws, naming the first problem, when the record does not hold a valid one. */
export function decodePlan(json: string): Member[] {
  const parsed = StoredPlanSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`the stored plan is not a valid team: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}
