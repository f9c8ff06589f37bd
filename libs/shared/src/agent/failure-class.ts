/**
 * Why an agent attempt ended badly, classified from what the CLI printed (the exit code alone is not enough:
 * the real CLI ends API errors with subtype "success").
 */
export const FAILURE_CLASSES = [
  'rate_limit',
  'overloaded',
  'api_5xx',
  'auth',
  'bad_request',
  'max_turns',
  'budget',
  'permission_denied',
  'crash',
  'hang',
  'timeout',
  'stalled',
  'cancelled',
  'shutdown',
  /** The member's verify checks still failed after its fix rounds. */
  'verify_failed',
  /** The planner's team was still invalid after one retry with the errors. */
  'plan_invalid',
  /** A member's dependencies' branches conflict where it starts: no retry merges them. */
  'merge_conflict',
  /** The git remote refused the member's branch (a protected ref, a hook that says no). */
  'push_rejected',
  /** A member without a repository left more work in its workspace than REINS_ARTIFACT_MAX_BYTES lets it hand on. */
  'artifact_too_large',
  /** The worker's data dir had no room (ENOSPC) while the attempt was set up: handed back, no attempt used. */
  'disk_full',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Classes that no retry can fix. */
export const UNRECOVERABLE_CLASSES: ReadonlySet<FailureClass> = new Set([
  'auth',
  'bad_request',
  'permission_denied',
  'budget',
  'cancelled',
  'verify_failed',
  'plan_invalid',
  'merge_conflict',
  'push_rejected',
  'artifact_too_large',
]);
