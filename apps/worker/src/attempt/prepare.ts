import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { AgentJobData, Cursor } from '@reins/shared';
import type { AgentIdentity } from '../agent/env.js';
import { continuationPrompt } from '../agent/resume.js';
import { resumableSession } from '../claude/transcript.js';
import { restoreCommit } from '../git/checkpoint.js';
import { fetchInputs, injectSkills, prepareWorkspace, type Workspace } from '../workspace.js';
import type { AttemptDeps } from './deps.js';

/** How a round starts: its prompt, and the session to resume (by id, or from a transcript file). */
export interface RoundStart {
  prompt: string;
  resume?: string | undefined;
  resumeFile?: string | undefined;
}

/** What an attempt keeps across its rounds. */
export interface PreparedAttempt {
  token: string;
  attempt: number;
  epoch: number;
  workspace: Workspace;
  home: string;
  identity: AgentIdentity;
  cursor: Cursor | undefined;
  first: RoundStart;
}

/**
 * Prepares the workspace (its skills, and a scratch member's inputs/<dependency>) and the agent's home,
 * restores the cursor, and takes the attempt's epoch
 * (attempt_started). The first round's prompt says where the last attempt got to, when there was one.
 */
export async function prepareAttempt(deps: AttemptDeps, job: Job, token: string, data: AgentJobData, attempt: number): Promise<PreparedAttempt> {
  const { config } = deps;
  const { runId, member } = data;
  // The planner reads the workdir as it is; members get their own worktree.
  const workspace = await prepareWorkspace({ dataDir: config.dataDir, runId, member, workdir: data.workdir, shared: data.mode === 'plan', baseCommit: data.baseCommit });
  const cursor = await deps.store.readCursor(runId, member);
  const previous = (await deps.store.readAttempts(runId, member)).at(-1);
  const restoredCommit = cursor?.commit && workspace.kind === 'git-worktree' ? await restoreCommit(workspace.path, cursor.commit) : undefined;
  await injectSkills(deps.files, runId, workspace.path, data.skills);
  if (workspace.kind === 'scratch' && data.mode === 'member') {
    // A scratch member has no repository to read its dependencies' work from: it gets their published folders.
    const dependencies = data.team.find((m) => m.name === member)?.dependsOn ?? [];
    await fetchInputs(deps.files, runId, workspace.path, dependencies);
  }
  const home = path.join(config.dataDir, 'homes', runId, member);
  await mkdir(path.join(home, 'tmp'), { recursive: true });
  const started = await deps.store.apply(runId, member, {
    type: 'attempt_started',
    attempt,
    at: deps.now(),
    workerId: deps.worker.workerId,
    host: deps.worker.host,
    tmuxSocket: deps.tmux.socketPath,
    workspace: workspace.path,
    ...(workspace.branch ? { branch: workspace.branch } : {}),
  });
  if (!started.applied) throw new UnrecoverableError(started.reason);
  const { epoch } = started;
  const identity: AgentIdentity = {
    runId,
    member,
    workspace: workspace.path,
    attempt,
    epoch,
    jobId: job.id!,
    redisUrl: config.redisUrl,
    prefix: config.prefix,
    heartbeatTtlMs: config.heartbeatTtlMs,
    binDir: path.dirname(deps.bin.reins),
  };
  const resumed = data.agent.kind === 'claude' ? await resumableSession(home, cursor) : undefined;
  const prompt = cursor || previous ? continuationPrompt({ prompt: data.prompt, attempt, previous, cursor, restoredCommit, resumed: resumed !== undefined }) : data.prompt;
  return { token, attempt, epoch, workspace, home, identity, cursor, first: { prompt, resume: resumed?.sessionId, resumeFile: resumed?.file } };
}
