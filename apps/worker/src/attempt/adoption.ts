import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Job, type Worker } from 'bullmq';
import { AttemptMetaSchema, parseJob, type AttemptMeta } from '@reins/shared';
import { attemptFiles } from '../tmux/launcher.js';
import { sessionIndexDir, type AttemptDeps } from './deps.js';
import { monitorAgent } from './monitor.js';
import { carryOutAdopted, settleAttempt } from './settle.js';
import { stopAgent } from './stop-agent.js';

async function readMeta(attemptDir: string | undefined): Promise<AttemptMeta | undefined> {
  if (!attemptDir) return undefined;
  try {
    return AttemptMetaSchema.parse(JSON.parse(await readFile(attemptFiles(attemptDir).meta, 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * After a restart, the sessions this worker left on its socket are found. One whose job has not moved
 * (still active, still locked with the token saved in its attempt folder, same epoch) is adopted: the
 * worker goes on renewing the lock and finishes the job itself. Any other is stopped.
 */
export async function adoptLeftovers(deps: AttemptDeps, consumerOf: (queueName: string) => Worker): Promise<void> {
  for (const name of await deps.tmux.list()) {
    const indexEntry = path.join(sessionIndexDir(deps), name);
    const attemptDir = await readFile(indexEntry, 'utf8').catch(() => undefined);
    const meta = await readMeta(attemptDir);
    const job = meta ? await Job.fromId(consumerOf(meta.queue), meta.jobId) : undefined;
    const member = meta ? await deps.store.getMember(meta.runId, meta.member) : undefined;
    const holds = meta !== undefined && job !== undefined && member?.epoch === meta.epoch && (await job.getState()) === 'active' && (await job.extendLock(meta.token, deps.config.heartbeatTtlMs)) === 1;
    if (!holds || !meta || !job) {
      deps.logger.warn({ session: name }, 'leftover session whose job moved on: stopping it');
      if (attemptDir) await stopAgent(deps.tmux, name, attemptFiles(attemptDir), deps.timings.stopGraceMs);
      else await deps.tmux.kill(name);
      await rm(indexEntry, { force: true });
      continue;
    }
    deps.logger.info({ session: name, jobId: meta.jobId }, 'adopting leftover session: its job has not moved');
    void finishAdopted(deps, job, meta);
  }
}

/** Watches an adopted agent to its end and settles its job by hand: no BullMQ processor holds it. */
async function finishAdopted(workerDeps: AttemptDeps, job: Job, meta: AttemptMeta): Promise<void> {
  // The agent keeps the user it was started as: its workspace, home and socket are that user's.
  const user = workerDeps.agentUsers.byName(meta.agentUser?.name);
  workerDeps.agentUsers.adopt(user);
  const deps = user ? { ...workerDeps, agentUser: user } : workerDeps;
  try {
    const data = parseJob('agent.run', job);
    const end = await monitorAgent(deps, job, meta, data, { adopted: true });
    // Settling publishes an adopted agent's work like any other's before it is recorded as succeeded.
    await carryOutAdopted(job, meta.token, await settleAttempt(deps, job, meta, data, end));
    // Its session's total: what an earlier round cost, an adopting worker cannot tell apart.
    if (meta.account) await deps.accounts.state.addUsage(meta.account, { tokens: end.tokens, costUsd: end.result?.total_cost_usd ?? 0 }).catch(() => undefined);
  } catch (error) {
    deps.logger.error({ err: error, jobId: meta.jobId }, 'adopted job could not be finished; it will stall and be retried');
  } finally {
    if (meta.account) await deps.accounts.state.release(meta.account, meta.jobId).catch(() => undefined);
    await deps.agentUsers.release(user).catch(() => undefined);
  }
}
