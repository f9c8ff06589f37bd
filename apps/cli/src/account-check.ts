import type { Harness, WorkerRegistration } from '@reins/shared';

type AccountChoice = { account?: string | undefined; accounts?: string[] | undefined };
const allowed = (m: AccountChoice | undefined): string[] | undefined => (m?.account ? [m.account] : m?.accounts);

/**
 * What `reins submit` warns of (it does not refuse: a worker may start later): Claude members that no live
 * worker holds an account for. One line per set of accounts, naming the members.
 */
export function accountWarnings(spec: Partial<Pick<Harness, 'team' | 'plan' | 'account' | 'accounts'>> & Pick<Harness, 'agent'>, live: readonly Pick<WorkerRegistration, 'accounts'>[]): string[] {
  const held = new Set(live.flatMap((w) => w.accounts ?? []));
  const members: ({ name: string; agent: Harness['agent'] } & AccountChoice)[] =
    spec.plan === 'auto' ? [{ name: 'the planner', agent: spec.agent }] : (spec.team ?? []).map((m) => ({ ...m, agent: m.agent ?? spec.agent }));
  const unserved = new Map<string, string[]>();
  for (const m of members) {
    if (m.agent.kind !== 'claude') continue;
    const may = allowed(m) ?? allowed(spec);
    if (may ? may.some((a) => held.has(a)) : held.size > 0) continue;
    const key = may ? may.join(' or ') : '';
    unserved.set(key, [...(unserved.get(key) ?? []), m.name]);
  }
  return [...unserved].map(([accounts, names]) =>
    accounts
      ? `no live worker holds account ${accounts}, which ${names.join(', ')} may use: ${names.length === 1 ? 'it waits' : 'they wait'} until a worker that holds one starts (reins accounts lists them)`
      : `no live worker holds a Claude account with credentials, so ${names.join(', ')} cannot run: give a worker ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN, or an accounts file (REINS_ACCOUNTS_FILE)`,
  );
}
