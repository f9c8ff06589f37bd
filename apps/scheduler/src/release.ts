import type { MemberRecord, MemberStatus } from '@reins/shared';

/** What the release step decides for one pending member. */
export type ReleaseDecision = { action: 'wait' } | { action: 'release' } | { action: 'skip'; reason: string };

const BLOCKING: ReadonlySet<MemberStatus> = new Set(['failed', 'skipped', 'cancelled']);

/** A pending member is released when all it depends on succeeded, and skipped when any of them ended otherwise. */
export function decideRelease(member: Pick<MemberRecord, 'dependsOn'>, statusOf: (name: string) => MemberStatus | undefined): ReleaseDecision {
  const blocked = member.dependsOn.filter((dep) => BLOCKING.has(statusOf(dep) ?? 'pending'));
  if (blocked.length > 0) {
    return { action: 'skip', reason: `skipped: ${blocked.map((d) => `${d} ${statusOf(d)}`).join(', ')}` };
  }
  return member.dependsOn.every((dep) => statusOf(dep) === 'succeeded') ? { action: 'release' } : { action: 'wait' };
}
