import { z } from 'zod';
import { AccountNameSchema } from '../accounts/account-name.js';
import { didYouMean, nearestName } from '../errors/suggest.js';
import { inputBoundIssues } from './input-bounds.js';
import { RepoSchema } from './repo.js';

/** Prompts travel as one argv element; Linux caps one argument at 128 KiB. */
export const MAX_PROMPT_BYTES = 100_000;
export const MAX_TEAM_SIZE = 8;

const NAME_RULE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;
const NAME_HINT = 'expected 1 to 40 letters, digits, "_" or "-", starting with a letter or digit';

export const MemberNameSchema = z.string().regex(NAME_RULE, NAME_HINT);
export const SkillNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected a skill name: lowercase letters, digits and "-", at most 64');

const EnvMapSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), z.string());

const PromptSchema = z.string().superRefine((prompt, ctx) => {
  // The size first: counting bytes copies nothing, and a 50 MB prompt is refused without trimming it.
  const bytes = Buffer.byteLength(prompt);
  if (bytes > MAX_PROMPT_BYTES) ctx.addIssue({ code: 'custom', message: `expected a prompt of at most ${MAX_PROMPT_BYTES} bytes, got ${bytes} bytes`, params: { quotesValue: true } });
  else if (prompt.trim().length === 0) ctx.addIssue({ code: 'custom', message: 'expected a non-empty prompt' });
});

export const ClaudeAgentSchema = z.strictObject({
  kind: z.literal('claude'),
  model: z.string().min(1).optional(),
  maxTurns: z.number().int().min(1).optional(),
  appendSystemPrompt: z.string().optional(),
  env: EnvMapSchema.optional(),
});

export const CommandAgentSchema = z.strictObject({
  kind: z.literal('command'),
  argv: z.array(z.string().min(1, 'expected a non-empty argument')).min(1, 'expected at least the program to run'),
  env: EnvMapSchema.optional(),
});

export const AgentSchema = z.discriminatedUnion('kind', [ClaudeAgentSchema, CommandAgentSchema]);

const ArgvSchema = z.array(z.string().min(1, 'expected a non-empty argument')).min(1, 'expected at least the program to run');

/** Checks run in the member's workspace after the agent reports success; all must exit 0. */
export const VerifySchema = z.strictObject({
  commands: z.array(ArgvSchema).min(1, 'expected at least one command'),
  /** Rounds of "fix what failed" before the member fails (default 3). */
  maxRounds: z.number().int().min(1).max(20).optional(),
  /** Per command (default 10 min). */
  timeoutMs: z.number().int().min(1).optional(),
});

const HOOK_EVENTS = ['PreToolUse', 'PostToolUse', 'Notification', 'UserPromptSubmit', 'Stop', 'SubagentStop', 'PreCompact', 'SessionStart', 'SessionEnd'] as const;

/** Claude Code's settings `hooks` object; reins adds its own heartbeat hooks beside these, never instead. */
export const HooksSchema = z.partialRecord(
  z.enum(HOOK_EVENTS),
  z.array(
    z.strictObject({
      matcher: z.string().optional(),
      hooks: z.array(z.strictObject({ type: z.literal('command'), command: z.string().min(1), timeout: z.number().positive().optional() })).min(1),
    }),
  ),
);

export const MemberSchema = z.strictObject({
  name: MemberNameSchema,
  /** What the member is for, in a few words (planned teams always give one). */
  role: z.string().min(1).max(200).optional(),
  prompt: PromptSchema,
  depends_on: z.array(MemberNameSchema).optional(),
  skills: z.array(SkillNameSchema).optional(),
  /** Replaces the harness-level agent for this member. */
  agent: AgentSchema.optional(),
  /** Replaces the harness-level checks for this member. */
  verify: VerifySchema.optional(),
  /** The Claude account its agent must use, or the accounts it may use (chosen by headroom); default: any its worker holds. */
  account: AccountNameSchema.optional(),
  accounts: z.array(AccountNameSchema).min(1).max(32).optional(),
  /** Labels a worker must have to run this member (gpu, repo-x, region-eu). */
  requires: z.array(z.string().regex(/^[A-Za-z0-9_.=-]{1,64}$/, 'expected a label of letters, digits, "_", ".", "=" or "-"')).optional(),
});

export const TeamSchema = z.array(MemberSchema).min(1, 'expected at least 1 member').max(MAX_TEAM_SIZE, `expected at most ${MAX_TEAM_SIZE} members`);

const TOKENS_HINT = 'expected a whole number of tokens, 1 or more';
const tokenCount = z.int({ error: TOKENS_HINT }).min(1, TOKENS_HINT);

export const LimitsSchema = z.strictObject({
  /** Wall clock of one attempt. */
  timeoutMs: z.number().int().min(1).optional(),
  /** No output and no tool activity for this long means hung (default: the worker's REINS_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: z.number().int().min(1).optional(),
  /** Each member's cap in US dollars (passed to Claude Code as --max-budget-usd); also what a member reserves. */
  maxBudgetUsd: z.number().positive().optional(),
  /** The whole run's cap in US dollars: no agent starts once reservations would go over it. */
  runBudgetUsd: z.number().positive().optional(),
  /**
   * Each member's cap in tokens (input, output and cache, as Claude Code's stream-json reports them), over all
   * its attempts: the worker stops an agent that goes over it, and starts none for a member at it.
   */
  maxTokens: tokenCount.optional(),
  /** The whole run's cap in tokens: the worker stops agents that take the run over it, and starts none once it is reached. */
  runMaxTokens: tokenCount.optional(),
  maxTurns: z.number().int().min(1).optional(),
});

export const RetrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(50).optional(),
});

/** The harness's fields, without the rules that span them (harnessRuleIssues). */
export const HarnessShapeSchema = z.strictObject({
  name: z.string().regex(NAME_RULE, NAME_HINT),
  goal: z.string().min(1).optional(),
  /** `auto`: a planner agent assembles the team from the goal. */
  plan: z.literal('auto').optional(),
  /** A folder on the hosts themselves: for one host, or hosts that really share a filesystem. */
  workdir: z.string().min(1).optional(),
  /** A git remote: members branch from `ref` and push their branches there; hosts share nothing else. */
  repo: RepoSchema.optional(),
  agent: AgentSchema.default({ kind: 'claude' }),
  team: TeamSchema.optional(),
  /** More folders of skills, besides reins' own; relative paths are taken from the harness file's folder. */
  skillPaths: z.array(z.string().min(1)).optional(),
  verify: VerifySchema.optional(),
  hooks: HooksSchema.optional(),
  /**
   * Agents of this harness share a concurrency key (default: "claude" for claude agents, which share an API
   * account). At most `max` run at once across the fleet (the fleet's REINS_CONCURRENCY may set a lower cap),
   * and a rate limit on one pauses all of them.
   */
  concurrency: z.strictObject({ key: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1 to 64 letters, digits, "_", "." or "-"'), max: z.number().int().min(1).optional() }).optional(),
  /** Passed to BullMQ as the agent jobs' priority: 1 runs first, 2 097 152 last; runs without one come before all. */
  priority: z.number().int().min(1).max(2_097_152).optional(),
  /** Webhooks told of the run's events (as well as the fleet's REINS_WEBHOOKS). */
  notify: z.strictObject({ webhooks: z.array(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' })).min(1) }).optional(),
  limits: LimitsSchema.optional(),
  retry: RetrySchema.optional(),
  /** The Claude accounts of members that name none (and of the planner). */
  account: AccountNameSchema.optional(),
  accounts: z.array(AccountNameSchema).min(1).max(32).optional(),
});

export const HarnessSchema = HarnessShapeSchema.superRefine((harness, ctx) => {
  // Their messages name the values themselves; the same words come from load.ts when the shape failed.
  for (const { path, message, suggestion } of harnessRuleIssues(harness)) ctx.addIssue({ code: 'custom', path, message, params: { quotesValue: true, ...(suggestion ? { suggestion } : {}) } });
  for (const { path, message } of inputBoundIssues(harness).issues) ctx.addIssue({ code: 'custom', path, message, params: { quotesValue: true } });
});

export type ClaudeAgent = z.infer<typeof ClaudeAgentSchema>;
export type CommandAgent = z.infer<typeof CommandAgentSchema>;
export type Agent = z.infer<typeof AgentSchema>;
export type Member = z.infer<typeof MemberSchema>;
export type Harness = z.infer<typeof HarnessSchema>;
export type Verify = z.infer<typeof VerifySchema>;
export type Hooks = z.infer<typeof HooksSchema>;
export type Limits = z.infer<typeof LimitsSchema>;

interface GraphIssue {
  path: (string | number)[];
  message: string;
  /** The member name a typo most likely meant. */
  suggestion?: string;
}

/** A member as far as the graph checks need it; a name or dependency that is not a string is left out (undefined). */
interface GraphMember {
  name?: string | undefined;
  depends_on?: readonly (string | undefined)[] | undefined;
}

const asRecord = (value: unknown): Record<string, unknown> | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined);

/** The names and dependencies of whatever members are well-formed enough to have them, at their own indexes. */
export function looseTeam(team: readonly unknown[]): GraphMember[] {
  return team.map((member) => {
    const fields = asRecord(member);
    const name = typeof fields?.name === 'string' ? fields.name : undefined;
    const deps = Array.isArray(fields?.depends_on) ? (fields.depends_on as unknown[]).map((d) => (typeof d === 'string' ? d : undefined)) : undefined;
    return { name, depends_on: deps };
  });
}

/**
 * The rules that span fields: repo or workdir, plan: auto or a team, and the team's graph. They take any
 * value, so a harness with shape errors elsewhere still has its cycle and unknown dependencies reported
 * in the same pass.
 */
export function harnessRuleIssues(value: unknown): GraphIssue[] {
  const harness = asRecord(value);
  if (!harness) return [];
  const issues: GraphIssue[] = [];
  if (harness.account !== undefined && harness.accounts !== undefined) issues.push({ path: ['account'], message: 'expected account or accounts, not both' });
  for (const [i, member] of (Array.isArray(harness.team) ? harness.team : []).entries()) {
    const fields = asRecord(member);
    if (fields?.account !== undefined && fields.accounts !== undefined) issues.push({ path: ['team', i, 'account'], message: 'expected account or accounts, not both' });
  }
  if (harness.repo !== undefined && harness.workdir !== undefined) issues.push({ path: ['repo'], message: 'expected repo or workdir, not both: repo for hosts that share only a git remote, workdir for one host' });
  if (harness.plan === 'auto') {
    if (!harness.goal) issues.push({ path: ['goal'], message: 'expected a goal: plan: auto builds the team from it' });
    if (harness.team !== undefined) issues.push({ path: ['team'], message: 'expected no team with plan: auto (the planner makes it); remove one of them' });
    return issues;
  }
  if (harness.team === undefined) {
    issues.push({ path: ['team'], message: 'expected a team of 1 to 8 members, or plan: auto with a goal' });
    return issues;
  }
  if (Array.isArray(harness.team)) issues.push(...teamGraphIssues(looseTeam(harness.team)));
  return issues;
}

/** Duplicate names, unknown or self dependencies, and cycles (named member by member). */
export function teamGraphIssues(team: readonly GraphMember[]): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const index = new Map<string, number>();
  team.forEach((member, i) => {
    if (member.name === undefined) return;
    if (index.has(member.name)) {
      issues.push({ path: ['team', i, 'name'], message: `duplicate member name "${member.name}" (also team[${index.get(member.name)}])` });
    } else index.set(member.name, i);
  });
  const duplicates = issues.length > 0;
  const known = [...index.keys()].join(', ');
  team.forEach((member, i) => {
    (member.depends_on ?? []).forEach((dep, j) => {
      if (dep === undefined) return;
      if (dep === member.name) issues.push({ path: ['team', i, 'depends_on', j], message: `"${dep}" depends on itself` });
      else if (!index.has(dep)) {
        const suggestion = nearestName(dep, index.keys());
        issues.push({
          path: ['team', i, 'depends_on', j],
          message: suggestion ? `unknown member "${dep}" (${didYouMean(suggestion)} expected one of: ${known})` : `unknown member "${dep}" (expected one of: ${known})`,
          ...(suggestion ? { suggestion } : {}),
        });
      }
    });
  });
  // A cycle among the members that do exist is worth reporting beside an unknown name; with duplicates, which one is meant is unclear.
  if (duplicates) return issues;
  const cycle = findCycle(team);
  if (cycle) {
    const first = index.get(cycle[0]!) ?? 0;
    issues.push({ path: ['team', first, 'depends_on'], message: `dependency cycle: ${cycle.join(' → ')}` });
  }
  return issues;
}

function findCycle(team: readonly GraphMember[]): string[] | undefined {
  const deps = new Map<string, string[]>();
  for (const m of team)
    if (m.name !== undefined)
      deps.set(
        m.name,
        (m.depends_on ?? []).filter((d): d is string => d !== undefined && d !== m.name),
      );
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of deps.get(name) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of deps.keys()) {
    const found = visit(name);
    if (found) return found;
  }
  return undefined;
}

/** Members in an order where each comes after everything it depends on (the file's order breaks ties). */
export function dependencyOrder<T extends Pick<Member, 'name' | 'depends_on'>>(team: readonly T[]): T[] {
  const placed = new Set<string>();
  const ordered: T[] = [];
  while (ordered.length < team.length) {
    const next = team.find((m) => !placed.has(m.name) && (m.depends_on ?? []).every((d) => placed.has(d)));
    if (!next) throw new Error('dependencyOrder: the team has a cycle');
    placed.add(next.name);
    ordered.push(next);
  }
  return ordered;
}
