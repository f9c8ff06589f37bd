import { access, constants, mkdir, statfs } from 'node:fs/promises';
import { execa } from 'execa';
import {
  Accounts,
  FleetReader,
  accountOverview,
  assertRedisReachable,
  createRedis,
  describeTopology,
  escapeControlChars,
  findOnPath,
  formatBytes,
  keyspaceNodes,
  redactRedisUrl,
  resolveClaudeBin,
  terminalJson,
  type Keys,
  type RedisConnection,
  type WorkerRegistration,
} from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { CliContext } from '../context.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

/** The Claude Code version reins is built and tested against. */
export const PINNED_CLAUDE_VERSION = '2.1.328';

interface Check {
  name: string;
  ok: boolean;
  /** Worth knowing but not blocking. */
  warn?: boolean;
  detail: string;
  fix?: string;
}

export const DOCTOR_HELP = `Usage: reins doctor

Checks Redis, tmux, git, the claude binary and its version, the API key or base URL, and the data dir
(writable, with more free space than REINS_MIN_FREE_BYTES, else a worker there takes no jobs), and says how
to fix what is missing. Exit 1 if anything essential is missing. With Redis reachable, a line per Claude
account the fleet knows: its last known state (ok, paused until a reset, broken: the refusal's message) and
the live workers that hold it; a broken account, or a live worker that holds none, is a warning. A line per
live worker says who its agents run as (REINS_AGENT_USER): a worker whose agents run as its own user is a
warning, since they can read its environment; so is a root host here without the user reins-agent.`;

export async function doctor(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('doctor', argv, { json: { type: 'boolean' } }, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(DOCTOR_HELP);
  const ctx = CliContext.fromEnv(flagOverrides(values));
  const { config } = ctx;
  const checks: Check[] = [];
  let accountLines: Check[] = [];

  const redis = createRedis(config.redisUrl, 'command', { lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await assertRedisReachable(redis, config.redisUrl);
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    // On a Cluster each master has its own policy; any that evicts is worth a warning.
    const policies = await Promise.all(keyspaceNodes(redis).map(async (node) => ((await node.config('GET', 'maxmemory-policy').catch(() => [])) as string[])[1]));
    const evicting = policies.find((p) => p !== undefined && p !== 'noeviction');
    const evicts = evicting !== undefined;
    checks.push({
      name: 'redis',
      ok: true,
      warn: evicts,
      detail: `${redactRedisUrl(config.redisUrl)}, version ${version}, ${await describeTopology(config.redisUrl, ctx.keys.bullPrefix)}${evicts ? `, maxmemory-policy ${evicting}` : ''}`,
      ...(evicts ? { fix: 'set maxmemory-policy noeviction: an evicted key is a lost job' } : {}),
    });
    accountLines = await accountChecks(redis, ctx.keys, config.heartbeatTtlMs).catch((error: unknown) => [{ name: 'account', ok: true, warn: true, detail: `cannot read the accounts: ${(error as Error).message}` }]);
    accountLines.push(...agentUserChecks(await new FleetReader(redis, ctx.keys).liveWorkers()));
  } catch (error) {
    checks.push({ name: 'redis', ok: false, detail: (error as Error).message, fix: 'run `npx reins up`, or set REINS_REDIS_URL' });
  } finally {
    redis.disconnect();
  }

  const tmux = await execa('tmux', ['-V'], { reject: false });
  const tmuxVersion = /tmux (\d+)\.(\d+)/.exec(tmux.stdout ?? '');
  const tmuxOk = tmux.exitCode === 0 && tmuxVersion !== null && Number(tmuxVersion[1]) >= 3;
  checks.push({ name: 'tmux', ok: tmuxOk, detail: tmux.exitCode === 0 ? tmux.stdout.trim() : 'not found', ...(tmuxOk ? {} : { fix: 'apt-get install -y tmux (3.0 or newer)' }) });

  const git = findOnPath('git');
  checks.push({ name: 'git', ok: git !== undefined, detail: git ?? 'not found', ...(git ? {} : { fix: 'apt-get install -y git' }) });

  const claude = resolveClaudeBin(config.claudeBin);
  if (!claude) {
    checks.push({ name: 'claude', ok: false, detail: 'not found', fix: `npm install (it brings @anthropic-ai/claude-code@${PINNED_CLAUDE_VERSION}), or set REINS_CLAUDE_BIN` });
  } else {
    const version = await execa(claude, ['--version'], { reject: false, timeout: 20_000 });
    const found = /(\d+\.\d+\.\d+)/.exec(version.stdout ?? '')?.[1];
    const pinned = found === PINNED_CLAUDE_VERSION;
    checks.push({
      name: 'claude',
      ok: version.exitCode === 0,
      warn: version.exitCode === 0 && !pinned,
      detail: `${claude}: ${found ?? (version.stderr || 'does not run').toString().trim()}`,
      ...(pinned ? {} : { fix: `reins is tested with ${PINNED_CLAUDE_VERSION}; other versions may print different stream-json` }),
    });
  }

  const hasKey = Boolean(process.env.ANTHROPIC_API_KEY || process.env.ANTHROPIC_AUTH_TOKEN);
  const baseUrl = process.env.ANTHROPIC_BASE_URL;
  checks.push({
    name: 'api',
    ok: hasKey || Boolean(baseUrl),
    detail: `${hasKey ? 'API key set' : 'no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN'}${baseUrl ? `, base URL ${baseUrl}` : ''}`,
    ...(hasKey || baseUrl ? {} : { fix: "export ANTHROPIC_API_KEY=… in the workers' environment (or ANTHROPIC_BASE_URL for a gateway)" }),
  });
  checks.push(...accountLines);
  const localAgentUser = await hostAgentUserCheck(config.agentGroup ? undefined : config.agentUser, config.agentGroup);
  if (localAgentUser) checks.push(localAgentUser);

  try {
    await mkdir(config.dataDir, { recursive: true });
    await access(config.dataDir, constants.W_OK);
    const stats = await statfs(config.dataDir);
    const freeBytes = stats.bavail * stats.bsize;
    // A worker under the floor is degraded: it takes no jobs (the worker's disk-space.ts, with the same rule).
    const low = config.minFreeBytes > 0 && freeBytes < config.minFreeBytes;
    checks.push({
      name: 'data dir',
      ok: true,
      detail: `${config.dataDir}, ${formatBytes(freeBytes)} free${low ? `, under REINS_MIN_FREE_BYTES (${formatBytes(config.minFreeBytes)}): a worker here would take no jobs` : ''}`,
      ...(low ? { warn: true, fix: 'free some space there, point REINS_DATA_DIR at a larger disk, or lower REINS_MIN_FREE_BYTES' } : {}),
    });
  } catch (error) {
    checks.push({ name: 'data dir', ok: false, detail: `${config.dataDir}: ${(error as Error).message}`, fix: 'set REINS_DATA_DIR to a writable folder' });
  }

  if (values.json) console.log(terminalJson({ ok: checks.every((c) => c.ok), checks }));
  else {
    for (const c of checks) {
      const mark = !c.ok ? 'MISSING' : c.warn ? 'WARN   ' : 'ok     ';
      // Details quote other programs (Redis's errors, `claude --version`): escaped like everything printed.
      console.log(`${mark} ${c.name.padEnd(9)} ${escapeControlChars(c.detail)}`);
      if ((!c.ok || c.warn) && c.fix) console.log(`        ${' '.repeat(9)} fix: ${escapeControlChars(c.fix)}`);
    }
  }
  return checks.every((c) => c.ok) ? EXIT.ok : EXIT.failed;
}

// A worker announcing the account with credentials other than those that failed takes the mark back (Accounts.announce).
const fixBroken = (name: string) => `give the workers that hold ${name} working credentials (REINS_ACCOUNTS_FILE, or their environment for "default") and restart them`;
const utc = (epochMs: number) => `${new Date(epochMs).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

/**
 * A line per account the fleet knows, with its last known state and who holds it, and a line per live worker
 * that holds none. A broken account is a warning, as a degraded worker's data dir is: the fleet goes on, moving
 * members to other accounts, but every Claude agent that may use only that one fails. A pause is the fleet
 * working as meant (it ends by itself at the reset), so it is ok.
 */
/** Who each live worker's agents run as: the worker's own user means an agent can read the worker (its environment, its data dir). */
function agentUserChecks(live: readonly WorkerRegistration[]): Check[] {
  return live.flatMap((w): Check[] => {
    if (w.agentUser === undefined) return []; // a worker from before REINS_AGENT_USER
    if (w.agentUser !== w.user) return [{ name: 'agent user', ok: true, detail: `worker ${w.workerId} runs as ${w.user}, its agents as ${w.agentUser}` }];
    return [
      {
        name: 'agent user',
        ok: true,
        warn: true,
        detail: `worker ${w.workerId} runs its agents as its own user (${w.user}): an agent can read the worker's environment (the Redis password, API keys) and its data dir`,
        fix: 'run the worker as root with a user reins-agent (useradd --system --user-group reins-agent), or set REINS_AGENT_USER to an unprivileged user',
      },
    ];
  });
}

/** A worker started here as root runs its agents as REINS_AGENT_USER, by default reins-agent, and refuses to start without that user. */
async function hostAgentUserCheck(requested: string | undefined, group: string | undefined): Promise<Check | undefined> {
  if (process.getuid?.() !== 0 || requested === 'root') return undefined;
  if (group !== undefined) {
    const members = (await execa('getent', ['group', group], { reject: false })).stdout?.split(':')[3] ?? '';
    if (members) return { name: 'agent user', ok: true, detail: `a worker started here as root runs each agent as one of ${members.split(',').join(', ')} (REINS_AGENT_GROUP ${group})` };
    return {
      name: 'agent user',
      ok: true,
      warn: true,
      detail: `REINS_AGENT_GROUP ${group} has no members here: a worker started here would refuse to start`,
      fix: `useradd --system -G ${group} --no-create-home --shell /usr/sbin/nologin <user>, once for each agent a worker runs at once`,
    };
  }
  const name = requested ?? 'reins-agent';
  const found = await execa('getent', ['passwd', name], { reject: false });
  if (found.exitCode === 0) return { name: 'agent user', ok: true, detail: `a worker started here as root runs its agents as ${name}` };
  return {
    name: 'agent user',
    ok: true,
    warn: true,
    detail: `this host has no user ${name}: a worker started here as root would refuse to start (REINS_AGENT_USER)`,
    fix: `useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${name}, or set REINS_AGENT_USER=root to run agents as root on purpose`,
  };
}

async function accountChecks(redis: RedisConnection, keys: Keys, leaseMs: number, now = Date.now()): Promise<Check[]> {
  const live = await new FleetReader(redis, keys).liveWorkers();
  const overview = await accountOverview(new Accounts(redis, keys, leaseMs), live, now);
  const checks: Check[] = overview.map((a) => {
    const states = [
      ...(a.broken ? [`broken: ${a.broken.message} (since ${utc(a.broken.at)})`] : []),
      ...(a.pausedUntil !== undefined && a.pausedUntil > now ? [`paused until ${utc(a.pausedUntil)}${a.pausedWhy ? ` (${a.pausedWhy})` : ''}`] : []),
    ];
    const holders = a.workers.length > 0 ? `held by ${a.workers.join(', ')}` : 'no live worker holds it';
    return {
      name: 'account',
      ok: true,
      ...(a.broken ? { warn: true, fix: fixBroken(a.name) } : {}),
      detail: `${a.name}: ${[...(states.length > 0 ? states : ['ok']), holders].join('; ')}`,
    };
  });
  for (const w of live) {
    if (w.accounts === undefined || w.accounts.length > 0) continue; // undefined: a worker from before accounts
    checks.push({
      name: 'account',
      ok: true,
      warn: true,
      detail: `worker ${w.workerId} holds none (no Claude credentials): a Claude agent there fails with auth`,
      fix: 'set REINS_ACCOUNTS_FILE, or ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN, in its environment',
    });
  }
  if (checks.length === 0) checks.push({ name: 'account', ok: true, detail: 'none known yet: each worker announces the accounts it holds when it starts' });
  return checks;
}
