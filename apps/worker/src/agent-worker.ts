import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  QUEUES,
  RunStore,
  createRedis,
  describeEvent,
  parseJob,
  resolveClaudeBin,
  type AgentJobData,
  type Keys,
  type Logger,
  type ReinsConfig,
  type StreamEvent,
} from '@reins/shared';
import { claudeInvocation } from './agent/claude.js';
import { commandInvocation } from './agent/command.js';
import type { AgentInvocation } from './agent/invocation.js';
import { classifyClaude, classifyCommand, type AgentOutcome } from './agent/outcome.js';
import { teamSystemPrompt } from './agent/system-prompt.js';
import { watchAttempt, type StopReason } from './attempt.js';
import { TmuxDriver, cleanSessionName } from './tmux/driver.js';
import { installLauncher, writeLaunchFiles } from './tmux/launcher.js';
import { injectSkills, prepareWorkspace, type Workspace } from './workspace.js';

/** What an agent job completes with; Bull Board and the scheduler read it. */
export interface AgentJobResult {
  status: 'succeeded';
  summary: string;
  exitCode: number | null;
  sessionId: string | undefined;
  costUsd: number | undefined;
  numTurns: number | undefined;
  durationMs: number;
  workspace: string;
}

/**
 * A worker's lifecycle:
 * - created:  constructed, not pulling
 * - running:  pulling agent jobs
 * - closing:  no new jobs; running agents are stopped and their jobs handed back
 * - closed
 */
export type WorkerState = 'created' | 'running' | 'closing' | 'closed';

export interface AgentWorkerOptions {
  config: ReinsConfig;
  keys: Keys;
  logger: Logger;
  workerId: string;
  concurrency: number;
}

/** Pulls agent jobs and runs each agent in its own tmux session on this worker's private socket. */
export class AgentWorker {
  private state: WorkerState = 'created';
  private closing: Promise<void> | undefined;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly store: RunStore;
  private bullWorker: Worker | undefined;
  readonly tmux: TmuxDriver;
  private launcher = '';
  /** Running agents by job id, so a cancel or a shutdown can stop them. */
  private readonly running = new Map<string, { runId: string; stop: AbortController }>();
  private readonly host = os.hostname();

  constructor(private readonly options: AgentWorkerOptions) {
    const { config, keys } = options;
    this.commands = createRedis(config.redisUrl, 'blocking');
    // No ready check: its INFO would be refused once the connection is in subscriber mode.
    this.subscriber = createRedis(config.redisUrl, 'blocking', { enableReadyCheck: false });
    this.subscriber.on('error', (error) => options.logger.warn({ err: error }, 'control channel connection error'));
    this.store = new RunStore(this.commands, keys);
    this.tmux = new TmuxDriver(path.join(config.dataDir, 'tmux', `${options.workerId}.sock`));
  }

  get status(): WorkerState {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`cannot start a worker that is ${this.state}`);
    this.state = 'running';
    const { config, keys, logger } = this.options;
    await mkdir(path.dirname(this.tmux.socketPath), { recursive: true });
    this.launcher = await installLauncher(path.join(config.dataDir, 'bin'));

    this.subscriber.on('message', (_channel, message) => this.onControlMessage(message));
    await this.subscriber.subscribe(keys.controlChannel);

    this.bullWorker = new Worker(QUEUES.agent, (job, token) => this.process(job, token), {
      connection: createRedis(config.redisUrl, 'blocking'),
      prefix: keys.bullPrefix,
      concurrency: this.options.concurrency,
      autorun: true,
    });
    this.bullWorker.on('error', (error) => logger.error({ err: error }, 'queue error'));
    logger.info({ workerId: this.options.workerId, concurrency: this.options.concurrency, tmuxSocket: this.tmux.socketPath }, 'worker started');
  }

  private onControlMessage(message: string): void {
    let parsed: { type?: unknown; runId?: unknown };
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.type !== 'cancel' || typeof parsed.runId !== 'string') return;
    for (const [jobId, agent] of this.running) {
      if (agent.runId === parsed.runId) {
        this.options.logger.info({ jobId }, 'cancel requested: stopping agent');
        agent.stop.abort('cancelled' satisfies StopReason);
      }
    }
  }

  private async process(job: Job, token: string | undefined): Promise<AgentJobResult> {
    const data = parseJob('agent.run', job);
    const { runId, member } = data;
    const log = this.options.logger.child({ runId, member, jobId: job.id });
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;

    const run = await this.store.getRun(runId);
    if (!run) throw new UnrecoverableError(`run ${runId} does not exist`);
    if (run.cancelled) {
      await this.store.updateMember(runId, member, { status: 'cancelled', endedAt: Date.now() });
      throw new UnrecoverableError('run cancelled');
    }
    // A worker that died after recording success but before acknowledging the job must not run it again.
    const before = await this.store.getMember(runId, member);
    if (before?.status === 'succeeded') return resultFromRecord(before);

    const workspace = await prepareWorkspace({ dataDir: this.options.config.dataDir, runId, member, workdir: data.workdir });
    await injectSkills(workspace.path, data.skills);
    const attemptDir = path.join(this.options.config.dataDir, 'runs', runId, member, `attempt-${attempt}`);
    const home = path.join(this.options.config.dataDir, 'homes', runId, member);
    await mkdir(path.join(home, 'tmp'), { recursive: true });
    const sessionId = data.agent.kind === 'claude' ? randomUUID() : undefined;
    const invocation = this.invocation(data, { workspace, home, attempt, sessionId });
    const files = await writeLaunchFiles(attemptDir, invocation.argv, invocation.env);
    const sessionName = cleanSessionName(`reins-${runId}-${member}-${attempt}`);

    const startedAt = Date.now();
    await this.store.updateMember(runId, member, {
      status: 'running',
      attempts: attempt,
      workspace: workspace.path,
      startedAt,
      workerId: this.options.workerId,
      host: this.host,
      tmuxSocket: this.tmux.socketPath,
      tmuxSession: sessionName,
      sessionId: sessionId ?? null,
      error: null,
      errorClass: null,
      exitCode: null,
      endedAt: null,
    });
    const stop = new AbortController();
    this.running.set(job.id!, { runId, stop });
    try {
      await this.tmux.start({ name: sessionName, cwd: workspace.path, argv: ['bash', this.launcher, attemptDir] });
      log.info({ attempt, session: sessionName, attach: this.tmux.attachCommand(sessionName) }, 'agent started');
      await job.log(`attempt ${attempt} on ${this.options.workerId}: ${this.tmux.attachCommand(sessionName)}`);

      let eventCount = 0;
      const end = await watchAttempt({
        tmux: this.tmux,
        sessionName,
        files,
        monitorIntervalMs: this.options.config.monitorIntervalMs,
        timeoutMs: data.limits.timeoutMs,
        signal: stop.signal,
        onEvents: async (events) => {
          eventCount += events.length;
          await this.report(job, runId, member, events, eventCount);
        },
      });
      const durationMs = Date.now() - startedAt;
      const outcome = data.agent.kind === 'claude' ? classifyClaude(end) : classifyCommand(end);
      const figures = {
        exitCode: end.exitCode,
        sessionId: end.sessionId ?? end.result?.session_id ?? sessionId ?? null,
        costUsd: end.result?.total_cost_usd ?? null,
        numTurns: end.result?.num_turns ?? null,
        durationMs,
      };

      if (end.stoppedBy === 'shutdown') {
        // Hand the job back without using an attempt: another worker (or this one, restarted) picks it up.
        await this.store.updateMember(runId, member, { ...figures, status: 'queued', attempts: attempt - 1, error: 'worker shut down; handed back' });
        await job.moveToDelayed(Date.now() + 1_000, token);
        throw new DelayedError();
      }
      if (end.stoppedBy === 'cancelled') {
        await this.store.updateMember(runId, member, { ...figures, status: 'cancelled', error: 'cancelled', endedAt: Date.now() });
        throw new UnrecoverableError('run cancelled');
      }
      const final = stoppedOutcome(end.stoppedBy, outcome);
      if (final.ok) {
        const summary = (end.result?.result ?? '').trim() || 'done';
        await this.store.updateMember(runId, member, { ...figures, status: 'succeeded', summary, endedAt: Date.now() });
        log.info({ durationMs, costUsd: figures.costUsd, numTurns: figures.numTurns }, 'agent succeeded');
        return {
          status: 'succeeded',
          summary,
          exitCode: end.exitCode,
          sessionId: figures.sessionId ?? undefined,
          costUsd: figures.costUsd ?? undefined,
          numTurns: figures.numTurns ?? undefined,
          durationMs,
          workspace: workspace.path,
        };
      }
      const lastAttempt = !final.retryable || attempt >= maxAttempts;
      await this.store.updateMember(runId, member, {
        ...figures,
        status: lastAttempt ? 'failed' : 'retrying',
        error: final.message,
        errorClass: final.failureClass,
        endedAt: lastAttempt ? Date.now() : null,
      });
      log.warn({ failureClass: final.failureClass, attempt, lastAttempt }, final.message);
      await job.log(`attempt ${attempt} failed (${final.failureClass}): ${final.message}`);
      throw final.retryable ? new Error(final.message) : new UnrecoverableError(final.message);
    } finally {
      this.running.delete(job.id!);
      await this.tmux.kill(sessionName).catch(() => undefined);
    }
  }

  private invocation(
    data: AgentJobData,
    at: { workspace: Workspace; home: string; attempt: number; sessionId: string | undefined },
  ): AgentInvocation {
    const identity = { runId: data.runId, member: data.member, workspace: at.workspace.path, attempt: at.attempt };
    if (data.agent.kind === 'command') {
      return commandInvocation({ agent: data.agent, prompt: data.prompt, home: at.home, identity, workerEnv: process.env });
    }
    const bin = resolveClaudeBin(this.options.config.claudeBin);
    if (!bin) throw new UnrecoverableError('no claude binary found: set REINS_CLAUDE_BIN or run `reins doctor`');
    return claudeInvocation({
      bin,
      prompt: data.prompt,
      sessionId: at.sessionId!,
      agent: data.agent,
      maxTurns: data.limits.maxTurns,
      systemPrompt: teamSystemPrompt(data),
      home: at.home,
      tmpDir: path.join(at.home, 'tmp'),
      identity,
      workerEnv: process.env,
      isRoot: process.getuid?.() === 0,
    });
  }

  /** One round of reporting: readable lines to the member's event stream and the job log, figures to progress. */
  private async report(job: Job, runId: string, member: string, events: StreamEvent[], eventCount: number): Promise<void> {
    const now = Date.now();
    const lines = events.flatMap(describeEvent);
    await this.store.appendEvents(runId, member, lines.map((l) => ({ at: now, kind: l.kind, text: l.text })));
    for (const line of lines.slice(-20)) await job.log(`${line.kind}: ${line.text}`);
    const last = lines.at(-1);
    await job.updateProgress({ events: eventCount, lastEventAt: now, ...(last ? { lastEvent: `${last.kind}: ${last.text}` } : {}) });
  }

  /** Stops taking jobs, stops running agents and hands their jobs back. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.state = 'closing';
    const steps: [string, () => Promise<unknown>][] = [
      ['stop agents', async () => {
        for (const agent of this.running.values()) agent.stop.abort('shutdown' satisfies StopReason);
      }],
      ['close queue worker', async () => this.bullWorker?.close()],
      ['close subscriber', async () => this.subscriber.quit()],
      ['close redis', async () => this.commands.quit()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.options.logger.warn({ err: error, step: name }, 'close step failed');
      }
    }
    this.state = 'closed';
  }
}

/** A stop by the wall clock is a failure of class timeout, whatever the agent printed before. */
function stoppedOutcome(stoppedBy: StopReason | undefined, outcome: AgentOutcome): AgentOutcome {
  if (stoppedBy !== 'timeout') return outcome;
  return { ok: false, failureClass: 'timeout', message: 'wall-clock limit reached; the session was killed', retryable: true, result: outcome.result, exitCode: outcome.exitCode };
}

function resultFromRecord(m: { summary?: string; exitCode?: number; sessionId?: string; costUsd?: number; numTurns?: number; durationMs?: number; workspace?: string }): AgentJobResult {
  return {
    status: 'succeeded',
    summary: m.summary ?? 'done',
    exitCode: m.exitCode ?? null,
    sessionId: m.sessionId,
    costUsd: m.costUsd,
    numTurns: m.numTurns,
    durationMs: m.durationMs ?? 0,
    workspace: m.workspace ?? '',
  };
}
