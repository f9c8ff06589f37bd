import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { dependencyOrder, type AgentJobData, type Cursor } from '@reins/shared';
import type { AgentIdentity } from '../agent/env.js';
import { handOver, type AgentUser } from '../agent-user.js';
import { continuationPrompt } from '../agent/resume.js';
import { resumableSession } from '../claude/transcript.js';
import { checkpointRef, restoreCommit } from '../git/checkpoint.js';
import { ensureCommit } from '../git/mirror.js';
import { fetchInputs, injectSkills, prepareWorkspace, type Workspace } from '../workspace.js';
import { newAgentChannel, type AgentChannel } from './agent-socket.js';
import type { AttemptDeps } from './deps.js';
import { ClassifiedFailure } from './retry-error.js';

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
  /** The agent's socket to this worker, and its token. */
  channel: AgentChannel;
  cursor: Cursor | undefined;
  first: RoundStart;
  /** The Claude account the agent runs under (attempt/account.ts), for every round of the attempt. */
  account?: string;
  /** Why the attempt cannot run after all (its workspace could not be made): the caller throws it. */
  failure?: ClassifiedFailure;
}

/**
 * Prepares the workspace (its skills, and a scratch member's inputs/<dependency>) and the agent's home,
 * restores the cursor, and takes the attempt's epoch
 * (attempt_started). The first round's prompt says where the last attempt got to, when there was one.
 */
export async function prepareAttempt(deps: AttemptDeps, job: Job, token: string, data: AgentJobData, attempt: number, account?: string): Promise<PreparedAttempt> {
  const { config } = deps;
  const { runId, member } = data;
  // The planner reads the workdir as it is; members get their own worktree.
  const made = await prepareWorkspace({
    dataDir: config.dataDir,
    runId,
    member,
    workdir: data.workdir,
    shared: data.mode === 'plan',
    baseCommit: data.baseCommit,
    repo: data.repo,
    dependsOn: dependenciesInOrder(data.team, member),
    as: deps.agentUser,
  }).then(
    (workspace) => ({ workspace, failure: undefined }),
    (error: unknown) => {
      // A start that no retry can fix (a merge conflict) is still an attempt: it takes an epoch, and records why.
      if (error instanceof ClassifiedFailure) return { workspace: { path: path.join(config.dataDir, 'worktrees', runId, member), kind: 'git-worktree' } as Workspace, failure: error };
      throw error;
    },
  );
  const { workspace, failure } = made;
  const cursor = await deps.store.readCursor(runId, member);
  const previous = (await deps.store.readAttempts(runId, member)).at(-1);
  // A checkpoint taken on another host travels through the remote: fetch it when this mirror lacks it.
  if (!failure && cursor?.commit && workspace.mirror) await ensureCommit(workspace.mirror, cursor.commit, checkpointRef(runId, member));
  const restoredCommit = !failure && cursor?.commit && workspace.kind === 'git-worktree' ? await restoreCommit(workspace.path, cursor.commit, deps.agentUser) : undefined;
  if (!failure) await injectSkills(deps.files, runId, workspace.path, data.skills);
  if (!failure && workspace.kind === 'scratch' && data.mode === 'member') {
    // A scratch member has no repository to read its dependencies' work from: it gets their published folders.
    await fetchInputs(deps.files, runId, workspace.path, dependenciesInOrder(data.team, member));
  }
  if (!failure) await handOverOwnPaths(deps.agentUser, workspace.path);
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
    ...(account ? { account } : {}),
  });
  if (!started.applied) throw new UnrecoverableError(started.reason);
  const { epoch } = started;
  const channel = newAgentChannel(config.dataDir);
  const identity: AgentIdentity = {
    runId,
    member,
    workspace: workspace.path,
    attempt,
    epoch,
    jobId: job.id!,
    socket: channel.path,
    token: channel.token,
    binDir: path.dirname(deps.bin.reins),
  };
  const resumed = data.agent.kind === 'claude' ? await resumableSession(home, cursor) : undefined;
  const prompt = cursor || previous ? continuationPrompt({ prompt: data.prompt, attempt, previous, cursor, restoredCommit, resumed: resumed !== undefined }) : data.prompt;
  return { token, attempt, epoch, workspace, home, identity, channel, cursor, first: { prompt, resume: resumed?.sessionId, resumeFile: resumed?.file }, ...(account ? { account } : {}), ...(failure ? { failure } : {}) };
}

/** What reins wrote into the workspace (skills, inputs) goes to the agent's user with the rest of it. */
async function handOverOwnPaths(as: AgentUser | undefined, workspace: string): Promise<void> {
  if (as === undefined) return;
  for (const own of ['.claude', 'inputs']) {
    const target = path.join(workspace, own);
    if (existsSync(target)) await handOver(as, workspace, target);
  }
}

/** A member's dependencies, in the team's dependency order (each after what it depends on). */
export function dependenciesInOrder(team: AgentJobData['team'], member: string): string[] {
  const direct = new Set(team.find((m) => m.name === member)?.dependsOn ?? []);
  return dependencyOrder(team.map((m) => ({ name: m.name, depends_on: m.dependsOn })))
    .map((m) => m.name)
    .filter((name) => direct.has(name));
}
