import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { planJsonSchema, resolveClaudeBin, revealEnv, type AgentJobData, type AttemptMeta, type Cursor } from '@reins/shared';
import { commandInvocation } from '../agent/command.js';
import type { AgentIdentity } from '../agent/env.js';
import type { AgentInvocation } from '../agent/invocation.js';
import { AGENT_UMASK, asAgentArgv, handOver } from '../agent-user.js';
import { teamSystemPrompt } from '../agent/system-prompt.js';
import { claudeInvocation } from '../claude/invocation.js';
import { resumableSession } from '../claude/transcript.js';
import { renewLease } from '../heartbeat.js';
import { cleanSessionName } from '../tmux/driver.js';
import { shQuote, writeLaunchFiles } from '../tmux/launcher.js';
import { sessionIndexDir, type AttemptDeps } from './deps.js';
import type { PreparedAttempt, RoundStart } from './prepare.js';

type ClaudeSession = { kind: 'new'; sessionId: string } | { kind: 'resume'; transcriptFile: string };

const PLANNER_SYSTEM_PROMPT = 'You are the planner of a reins team. You run unattended: nobody will answer questions.';

/** Starts one round of the attempt in its own tmux session: a new session, or the attempt's session resumed. */
export async function launchRound(deps: AttemptDeps, job: Job, ctx: PreparedAttempt, data: AgentJobData, round: number, start: RoundStart): Promise<AttemptMeta> {
  const { config, tmux } = deps;
  const { runId, member } = data;
  const suffix = round === 1 ? '' : `-r${round}`;
  const sessionName = cleanSessionName(`reins-${runId}-${member}-${ctx.attempt}${suffix}`);
  const attemptDir = path.join(config.dataDir, 'runs', runId, member, `e${ctx.epoch}${suffix}`);
  let session: ClaudeSession | undefined;
  let sessionId: string | undefined;
  if (data.agent.kind === 'claude') {
    const resumeFile = start.resumeFile ?? (start.resume ? (await resumableSession(ctx.home, { sessionId: start.resume }))?.file : undefined);
    sessionId = resumeFile ? start.resume : randomUUID();
    session = resumeFile ? { kind: 'resume', transcriptFile: resumeFile } : { kind: 'new', sessionId: sessionId! };
  }
  const startedAt = deps.now();
  await deps.store.apply(runId, member, { type: 'round_started', tmuxSession: sessionName, ...(sessionId ? { sessionId } : {}) }, { epoch: ctx.epoch });
  const invocation = agentInvocation(deps, { ...data, agent: await agentWithSecrets(deps, data) }, { prompt: start.prompt, home: ctx.home, identity: ctx.identity, cursor: ctx.cursor, session, account: ctx.account });
  // setsid (the launcher's) starts setpriv, which starts the agent as its user: one process, one pid.
  const argv = deps.agentUser ? [...asAgentArgv(deps.agentUser), ...invocation.argv] : invocation.argv;
  const files = await writeLaunchFiles(attemptDir, argv, invocation.env);
  const meta: AttemptMeta = {
    jobId: job.id!,
    queue: job.queueName,
    runId,
    member,
    attempt: ctx.attempt,
    epoch: ctx.epoch,
    token: ctx.token,
    sessionName,
    attemptDir,
    home: ctx.home,
    workspace: ctx.workspace,
    sessionId,
    ...(ctx.account ? { account: ctx.account } : {}),
    channel: ctx.channel,
    ...(deps.agentUser ? { agentUser: { name: deps.agentUser.name, uid: deps.agentUser.uid, gid: deps.agentUser.gid } } : {}),
    startedAt,
  };
  // Independent of each other, so at once: one after another they were 15 ms of each start on a busy machine.
  await Promise.all([
    writeFile(files.meta, JSON.stringify(meta)),
    deps.sockets.listen({ ...meta, channel: ctx.channel }),
    renewLease(files.lease, deps.now() + deps.timings.fenceAfterMs),
    // Everything the worker put in the agent's home (a resumed transcript, its tmp folder) is the agent's.
    handOver(deps.agentUser, config.dataDir, ctx.home),
    // The index lets a restarted worker find the attempt behind each session it left behind.
    mkdir(sessionIndexDir(deps), { recursive: true }).then(() => writeFile(path.join(sessionIndexDir(deps), sessionName), attemptDir)),
  ]);
  await tmux.start({ name: sessionName, cwd: ctx.workspace.path, argv: ['bash', deps.bin.launcher, attemptDir, String(deps.timings.stopGraceMs), ...(deps.agentUser ? [AGENT_UMASK] : [])] });
  const resumed = session?.kind === 'resume';
  deps.logger.info({ runId, member, attempt: ctx.attempt, round, epoch: ctx.epoch, resumed, attach: tmux.attachCommand(sessionName) }, 'agent started');
  await job.log(`attempt ${ctx.attempt}${round > 1 ? ` round ${round}` : ''} on ${deps.worker.workerId}${resumed ? ' (resumed session)' : ''}: ${tmux.attachCommand(sessionName)}`);
  return meta;
}

/**
 * The job's agent with its env values back from the run's secrets (job data carries only their names).
 * Read for each round and handed straight to the invocation, so the values live in no record, log line
 * or job. A value that is not there any more cannot come back on a retry: the attempt fails at once.
 */
async function agentWithSecrets(deps: AttemptDeps, data: AgentJobData): Promise<AgentJobData['agent']> {
  if (data.agent.env === undefined || Object.keys(data.agent.env).length === 0) return data.agent;
  const { env, missing } = revealEnv(data.agent.env, await deps.secrets.agentEnv(data.runId, data.member));
  if (missing.length > 0) {
    throw new UnrecoverableError(`agent.env ${missing.join(', ')}: no value stored for run ${data.runId} (reins submit keeps them in Redis apart from the job, until the run ends); submit the harness again`);
  }
  return { ...data.agent, ...(env ? { env } : {}) };
}

interface InvocationInput {
  prompt: string;
  home: string;
  identity: AgentIdentity;
  cursor: Cursor | undefined;
  session: ClaudeSession | undefined;
  account: string | undefined;
}

/** The agent's argv and environment: a command agent as the harness gave it, or the claude CLI. */
function agentInvocation(deps: AttemptDeps, data: AgentJobData, at: InvocationInput): AgentInvocation {
  if (data.agent.kind === 'command') {
    const cursorJson = at.cursor ? JSON.stringify({ attempt: at.cursor.attempt, at: at.cursor.at, commit: at.cursor.commit, data: at.cursor.data }) : undefined;
    return commandInvocation({ agent: data.agent, prompt: at.prompt, home: at.home, identity: at.identity, workerEnv: deps.workerEnv, cursorJson });
  }
  const bin = resolveClaudeBin(deps.config.claudeBin);
  if (!bin) throw new UnrecoverableError('no claude binary found: set REINS_CLAUDE_BIN or run `reins doctor`');
  return claudeInvocation({
    bin,
    prompt: at.prompt,
    session: at.session ?? { kind: 'new', sessionId: randomUUID() },
    hookCommand: shQuote(deps.bin.hook),
    harnessHooks: data.hooks,
    jsonSchema: data.mode === 'plan' ? planJsonSchema() : undefined,
    maxBudgetUsd: data.limits.maxBudgetUsd,
    agent: data.agent,
    maxTurns: data.limits.maxTurns,
    systemPrompt: data.mode === 'plan' ? PLANNER_SYSTEM_PROMPT : teamSystemPrompt(data),
    home: at.home,
    tmpDir: path.join(at.home, 'tmp'),
    identity: at.identity,
    workerEnv: deps.workerEnv,
    accountEnv: { ...deps.accounts.held.find((a) => a.name === at.account)?.env },
    isRoot: deps.agentUser === undefined && process.getuid?.() === 0,
  });
}
