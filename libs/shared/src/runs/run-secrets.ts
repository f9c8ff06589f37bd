import { z } from 'zod';
import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import type { Agent, Harness } from '../spec/harness.js';

/** How long a submission's values wait for its run to be created: a week, far past any scheduler outage worth riding out. */
export const SECRETS_UNCLAIMED_TTL_MS = 7 * 24 * 3600 * 1000;

/** What every `agent.env` value reads as outside the run's secrets: in job data, the run record, logs and pages. */
export const REDACTED = '[redacted]';

/** The field of `{p}:secrets:<run>` that holds the env of the harness's agent (the planner's, and a planned team's). */
export const HARNESS_AGENT_SCOPE = 'agent';
/** The field that holds the env of a member's own agent. */
export const memberAgentScope = (member: string): string => `member:${member}`;

/** One agent's env values, name → value, as `reins submit` stores them and a worker reads them back. */
export const AgentEnvValuesSchema = z.record(z.string(), z.string());
export type AgentEnvValues = z.infer<typeof AgentEnvValuesSchema>;

/** A run's secrets: scope (HARNESS_AGENT_SCOPE or memberAgentScope) → that agent's env values. */
export type RunSecretValues = Record<string, AgentEnvValues>;

const redactEnv = (env: Record<string, string>): Record<string, string> => Object.fromEntries(Object.keys(env).map((name) => [name, REDACTED]));

/** The agent with its env values replaced by REDACTED; the names stay, so pages and `status` can show them. */
export function redactAgent<A extends Agent>(agent: A): A {
  return agent.env === undefined ? agent : { ...agent, env: redactEnv(agent.env) };
}

/** The harness with every agent's env values replaced by REDACTED. Pure; idempotent. */
export function redactSpec(spec: Harness): Harness {
  return {
    ...spec,
    agent: redactAgent(spec.agent),
    ...(spec.team ? { team: spec.team.map((member) => (member.agent ? { ...member, agent: redactAgent(member.agent) } : member)) } : {}),
  };
}

/**
 * Splits a harness into what travels (the spec, env values redacted) and what is kept apart (each
 * agent's env values by scope), for `reins submit`. Pure. An agent without env values has no scope.
 */
export function separateSecrets(spec: Harness): { spec: Harness; secrets: RunSecretValues } {
  const secrets: RunSecretValues = {};
  if (spec.agent.env && Object.keys(spec.agent.env).length > 0) secrets[HARNESS_AGENT_SCOPE] = { ...spec.agent.env };
  for (const member of spec.team ?? []) {
    if (member.agent?.env && Object.keys(member.agent.env).length > 0) secrets[memberAgentScope(member.name)] = { ...member.agent.env };
  }
  return { spec: redactSpec(spec), secrets };
}

/** The env names of a run's agents whose values are kept apart, by scope (empty when it has none). */
export function secretNames(spec: Harness): Record<string, string[]> {
  return Object.fromEntries(Object.entries(separateSecrets(spec).secrets).map(([scope, env]) => [scope, Object.keys(env)]));
}

/**
 * The values a retry can store again for a run whose secrets went with its end, read from the harness file
 * it was submitted from: every name the run's spec keeps, in each scope, must be in the file's. Pure.
 */
export function secretsForRetry(runSpec: Harness, fileSpec: Harness): { secrets: RunSecretValues; missing: string[] } {
  const fromFile = separateSecrets(fileSpec).secrets;
  const secrets: RunSecretValues = {};
  const missing: string[] = [];
  for (const [scope, names] of Object.entries(secretNames(runSpec))) {
    const values: AgentEnvValues = {};
    for (const name of names) {
      const value = fromFile[scope] !== undefined && Object.hasOwn(fromFile[scope], name) ? fromFile[scope][name] : undefined;
      if (value === undefined) missing.push(scope === HARNESS_AGENT_SCOPE ? name : `${name} (${scope})`);
      else values[name] = value;
    }
    secrets[scope] = values;
  }
  return { secrets, missing };
}

/**
 * Puts a job's env values back: each name the run's secrets hold gets its value; a name left REDACTED
 * with no value is reported missing (the worker then refuses to start the agent rather than hand it
 * the placeholder). Pure.
 */
export function revealEnv(env: Record<string, string> | undefined, values: AgentEnvValues | undefined): { env: Record<string, string> | undefined; missing: string[] } {
  if (env === undefined) return { env, missing: [] };
  const revealed: Record<string, string> = {};
  const missing: string[] = [];
  for (const [name, shown] of Object.entries(env)) {
    const value = values !== undefined && Object.hasOwn(values, name) ? values[name] : undefined;
    if (value !== undefined) revealed[name] = value;
    else if (shown === REDACTED) missing.push(name);
    else revealed[name] = shown;
  }
  return { env: revealed, missing };
}

/**
 * The `agent.env` values of a run, kept in `{p}:secrets:<run>` and never in job data, the run record, logs
 * or pages. Stored apart rather than encrypted: Redis is already what a fleet trusts (whoever can write it
 * can run commands on every worker), so encryption would guard against no one new, and a key only workers
 * hold would be one more secret every worker host must be given and rotated, with no way for `reins submit`
 * to check it. Written by `reins submit` before the run exists, read by the worker that starts an agent,
 * deleted by the scheduler when the run ends.
 */
export class RunSecrets {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
  ) {}

  /**
   * Stores every scope of a run at once: all of them or none. At submit, `unclaimedTtlMs` bounds how long
   * they wait for the scheduler to create the run (which keeps them from then on, RunStore.createRun), so
   * a submission that never becomes a run, refused or lost with its CLI, leaves no values behind.
   */
  async put(runId: string, secrets: RunSecretValues, { unclaimedTtlMs }: { unclaimedTtlMs?: number } = {}): Promise<void> {
    const fields = Object.entries(secrets).map(([scope, env]) => [scope, JSON.stringify(env)] as const);
    if (fields.length === 0) return;
    const tx = this.redis.multi().hset(this.keys.secrets(runId), Object.fromEntries(fields));
    if (unclaimedTtlMs !== undefined) tx.pexpire(this.keys.secrets(runId), unclaimedTtlMs);
    await tx.exec();
  }

  /**
   * The env values of a member's agent: its own agent's when the harness gave it one with env, the
   * harness agent's otherwise; undefined when the run has none (or they were deleted at its end).
   */
  async agentEnv(runId: string, member: string): Promise<AgentEnvValues | undefined> {
    const [own, harness] = await this.redis.hmget(this.keys.secrets(runId), memberAgentScope(member), HARNESS_AGENT_SCOPE);
    const stored = own ?? harness;
    return stored === null || stored === undefined ? undefined : AgentEnvValuesSchema.parse(JSON.parse(stored));
  }

  async exists(runId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.secrets(runId))) === 1;
  }

  async delete(runId: string): Promise<void> {
    await this.redis.del(this.keys.secrets(runId));
  }
}
