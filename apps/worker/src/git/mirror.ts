import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { redactRepoUrl } from '@reins/shared';
import { passable } from '../agent-user.js';
import { withFileLock } from './file-lock.js';
import { git, gitSucceeds } from './git.js';

/**
 * One bare repository per remote URL under <data dir>/mirrors, kept with incremental fetches. Member
 * worktrees are made from it, so a second member of the same repository costs a fetch, not a clone.
 *
 * It is not `git clone --mirror`: a mirror's fetch would prune the member branches made here. The
 * remote's branches land under refs/remotes/origin/ and its tags as tags; local branches are reins'.
 */
export interface Mirror {
  /** The bare repository. */
  dir: string;
  url: string;
}

/** What reins puts in a workspace, kept out of the agent's commits by the repository's local exclude. */
export const REINS_EXCLUDES = ['/.claude/skills/'];

/** The remote's branches and tags, as the mirror keeps them. */
export const BASE_REFSPECS = ['+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*'];

export function mirrorDir(dataDir: string, url: string): string {
  const name = (url.replace(/\/+$/, '').split(/[/:]/).at(-1) ?? 'repo').replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
  const digest = createHash('sha256').update(url).digest('hex').slice(0, 12);
  return path.join(dataDir, 'mirrors', `${name}-${digest}.git`);
}

/** Holds the mirror's lock: one fetch or worktree change at a time, across processes. */
export const withMirror = <T>(mirror: Mirror, work: () => Promise<T>): Promise<T> => withFileLock(`${mirror.dir}.lock`, work);

/**
 * The mirror of `url`, made on first use with the remote's branches and tags. Later users fetch what they
 * need (a base commit it lacks, dependencies' branches), so a warm mirror costs no round trip at all.
 */
export async function openMirror(dataDir: string, url: string): Promise<Mirror> {
  const mirror = { dir: mirrorDir(dataDir, url), url };
  // `reins-complete` is written last: a mirror whose creation died half-way is made again.
  if (existsSync(path.join(mirror.dir, 'reins-complete'))) return mirror;
  await withMirror(mirror, async () => {
    if (existsSync(path.join(mirror.dir, 'reins-complete'))) return;
    await createMirror(mirror);
    await fetchRefs(mirror, BASE_REFSPECS);
    await writeFile(path.join(mirror.dir, 'reins-complete'), `${mirror.url}\n`);
  });
  return mirror;
}

/** Whether the mirror has a commit. */
export const hasCommit = (mirror: Mirror, commit: string): Promise<boolean> => gitSucceeds(mirror.dir, ['cat-file', '-e', `${commit}^{commit}`]);

async function createMirror(mirror: Mirror): Promise<void> {
  // A folder left by a creation that died half-way is started again.
  await rm(mirror.dir, { recursive: true, force: true });
  await mkdir(mirror.dir, { recursive: true });
  await passable(path.dirname(path.dirname(mirror.dir)), mirror.dir);
  await chmod(mirror.dir, 0o755);
  // Readable by the agents' user, whose clones borrow its objects (repo-clone.ts); only the worker writes it.
  await git(mirror.dir, ['init', '--quiet', '--bare', '--shared=0644']);
  await git(mirror.dir, ['config', 'remote.origin.url', mirror.url]);
  // Members' clones borrow its objects (alternates): git's automatic gc must never prune one they still need.
  await git(mirror.dir, ['config', 'gc.auto', '0']);
  await mkdir(path.join(mirror.dir, 'info'), { recursive: true });
  await writeFile(path.join(mirror.dir, 'info', 'exclude'), `# reins: what it puts in a workspace is not the agent's work\n${REINS_EXCLUDES.join('\n')}\n`);
}

/** Fetches refspecs from the remote. Errors name the URL (redacted) and git's message. */
export async function fetchRefs(mirror: Mirror, refspecs: readonly string[]): Promise<void> {
  const result = await git(mirror.dir, ['fetch', '--quiet', '--no-write-fetch-head', 'origin', ...refspecs], { remote: true, reject: false });
  if (result.exitCode !== 0) throw new Error(`git fetch from ${redactRepoUrl(mirror.url)} failed: ${lastLines(result.stderr)}`);
}

/**
 * Makes sure a commit is in the mirror, fetching when it is not: `ref` (where it should be), else the
 * remote's branches and tags, else the commit by id. The caller holds the mirror's lock.
 */
export async function fetchCommit(mirror: Mirror, commit: string, ref?: string): Promise<boolean> {
  if (await hasCommit(mirror, commit)) return true;
  await fetchRefs(mirror, ref ? [`+${ref}:refs/reins/fetched/${ref.replace(/^refs\//, '')}`] : BASE_REFSPECS).catch(() => undefined);
  // A commit that no ref points at any more: servers give reachable commits by id.
  if (!(await hasCommit(mirror, commit))) await fetchRefs(mirror, [commit]).catch(() => undefined);
  return hasCommit(mirror, commit);
}

/** fetchCommit under the mirror's lock, when the commit is not there already. */
export async function ensureCommit(mirror: Mirror, commit: string, ref?: string): Promise<boolean> {
  return (await hasCommit(mirror, commit)) || withMirror(mirror, () => fetchCommit(mirror, commit, ref));
}

export const lastLines = (text: string, n = 3): string => redactRepoUrl(text.trim().split('\n').slice(-n).join(' ').trim() || 'no message');
