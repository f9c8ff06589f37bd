/**
 * A member's lifecycle:
 * - pending:   waiting for its dependencies
 * - queued:    its agent job is on the queue
 * - running:   an agent is alive for it
 * - retrying:  the last attempt failed; another is scheduled
 * - succeeded / failed / skipped (a dependency failed) / cancelled: final
 */
export const MEMBER_STATUSES = ['pending', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/**
 * A run's lifecycle: queued → running → succeeded | failed | cancelled | budget_exhausted (its budget ran
 * out: partial work and cursors are kept, and `reins retry` continues it). It follows from its members'.
 * `refused`: a submission the scheduler's checks refused (one put on the control queue by other means than
 * `reins submit`); the run has no members, only the refusal, and never runs.
 */
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'budget_exhausted', 'refused'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const FINAL_MEMBER: ReadonlySet<MemberStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
const FINAL_RUN: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'cancelled', 'budget_exhausted', 'refused']);

export const isFinalMemberStatus = (status: MemberStatus): boolean => FINAL_MEMBER.has(status);
export const isFinalRunStatus = (status: RunStatus): boolean => FINAL_RUN.has(status);

/**
 * The run's status from its members'. A run ends only when every member has ended,
 * so independent members finish their work even after a sibling failed.
 */
export function deriveRunStatus(members: readonly { status: MemberStatus; errorClass?: string | undefined }[], cancelled: boolean): RunStatus {
  if (cancelled) return 'cancelled';
  if (members.length > 0 && members.every((m) => m.status === 'succeeded')) return 'succeeded';
  if (members.every((m) => isFinalMemberStatus(m.status))) return members.some((m) => m.status === 'failed' && m.errorClass === 'budget') ? 'budget_exhausted' : 'failed';
  if (members.some((m) => m.status !== 'pending' && m.status !== 'queued')) return 'running';
  return 'queued';
}
