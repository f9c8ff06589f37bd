import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { redactUrlPassword } from '../errors/format.js';
import type { InputIssue } from '../errors/issue.js';

/**
 * A harness's `repo: {url, ref?}`: the git remote members branch from and push to. Credentials live on the
 * hosts (ssh keys, credential helpers), never in the URL: a password in it is refused, and redacted.
 */

/** The transports a harness may name; git's others (ext::, fd::) run commands and are never allowed. */
const SCHEMES = new Set(['ssh:', 'git+ssh:', 'ssh+git:', 'git:', 'http:', 'https:', 'file:']);
/** scp-like `[user@]host:path`, as ssh remotes are usually written. */
const SCP_LIKE = /^(?:[A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;
/** A branch, a tag, a full ref or a commit: what `git check-ref-format` allows, minus what could be an option. */
const REF_RULE = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*[./]$)[A-Za-z0-9._/+-]{1,200}$/;
const FULL_SHA = /^[0-9a-f]{40}$/;

/** A URL with its password shown as `***`. */
export const redactRepoUrl = redactUrlPassword;

/** Why a repository URL cannot be used, or undefined. Messages quote the URL redacted. */
export function repoUrlProblem(url: string): string | undefined {
  const shown = JSON.stringify(redactRepoUrl(url));
  if (url.startsWith('-')) return `expected a git URL, got ${shown}`;
  if (/[\s\0]/.test(url)) return `expected a git URL without spaces or control characters, got ${shown}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    if (SCP_LIKE.test(url)) return undefined;
    if (path.isAbsolute(url)) return `expected a git URL, got the path ${shown}: write file://${url}`;
    return `expected a git URL (ssh://, https://, git://, file:// or user@host:path), got ${shown}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `expected a git URL, got ${shown}`;
  }
  if (!SCHEMES.has(parsed.protocol)) return `expected an ssh, https, git or file URL, got ${shown}`;
  if (parsed.password !== '') return `expected a URL without a password, got ${shown}: credentials belong on the worker hosts (ssh keys, a credential helper), never in the harness`;
  return undefined;
}

export const RepoSchema = z.strictObject({
  url: z.string().superRefine((url, ctx) => {
    const problem = repoUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { quotesValue: true } });
  }),
  /** A branch, tag or full commit; the remote's HEAD when not given. */
  ref: z.string().regex(REF_RULE, 'expected a branch, tag or commit').optional(),
});
export type Repo = z.infer<typeof RepoSchema>;

/** How long submit waits for the remote before it says it cannot be reached. */
const REMOTE_TIMEOUT_MS = 30_000;

/**
 * git for questions to a remote from the submitter's machine: never prompting for a password (a prompt
 * would hang an unattended submit), with ssh in batch mode unless the user set their own ssh command.
 */
async function askRemote(args: readonly string[], cwd?: string): Promise<{ ok: true; stdout: string } | { ok: false; message: string }> {
  const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes' };
  try {
    const { stdout } = await promisify(execFile)('git', [...(cwd ? ['-C', cwd] : []), ...args], { env, timeout: REMOTE_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, stdout };
  } catch (error) {
    const failure = error as { stderr?: string; killed?: boolean; message: string };
    if (failure.killed) return { ok: false, message: `no answer within ${REMOTE_TIMEOUT_MS / 1000} s` };
    const text = (failure.stderr ?? failure.message).trim().split('\n').slice(-3).join(' ');
    return { ok: false, message: redactRepoUrl(text) };
  }
}

/** Where the run starts: the commit `ref` names on the remote now (the remote's HEAD without one). */
export type ResolvedRepo = { ok: true; baseCommit: string } | { ok: false; issue: InputIssue };

export async function resolveRepo(repo: Repo): Promise<ResolvedRepo> {
  const shown = redactRepoUrl(repo.url);
  const listed = await askRemote(['ls-remote', '--symref', '--', repo.url, ...refPatterns(repo.ref)]);
  if (!listed.ok) return { ok: false, issue: { path: 'repo.url', message: `cannot read ${shown}: ${listed.message}` } };
  const refs = new Map<string, string>();
  for (const line of listed.stdout.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name && FULL_SHA.test(sha)) refs.set(name, sha);
  }
  if (repo.ref === undefined) {
    const head = refs.get('HEAD');
    return head ? { ok: true, baseCommit: head } : { ok: false, issue: { path: 'repo.url', message: `${shown} has no HEAD (an empty repository?): push a first commit, or name a ref` } };
  }
  const ref = repo.ref;
  // A full ref first, then a branch, then a tag (peeled to its commit).
  for (const name of [ref, `refs/heads/${ref}`, `refs/tags/${ref}^{}`, `refs/tags/${ref}`]) {
    const sha = refs.get(name);
    if (sha) return { ok: true, baseCommit: sha };
  }
  if (FULL_SHA.test(ref)) return (await commitExists(repo.url, ref)) ? { ok: true, baseCommit: ref } : { ok: false, issue: { path: 'repo.ref', message: `no commit ${ref} on ${shown}` } };
  const hint = /^[0-9a-f]{7,39}$/.test(ref) ? ': give a commit as its full 40 characters' : '';
  return { ok: false, issue: { path: 'repo.ref', message: `no branch or tag "${ref}" on ${shown}${hint}` } };
}

function refPatterns(ref: string | undefined): string[] {
  if (ref === undefined) return ['HEAD'];
  if (FULL_SHA.test(ref)) return ['HEAD'];
  return ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/tags/${ref}^{}`];
}

/** A commit that no branch or tag points at can only be checked by fetching it (servers allow that for reachable commits). */
async function commitExists(url: string, sha: string): Promise<boolean> {
  const dir = await mkdtemp(path.join(tmpdir(), 'reins-ref-'));
  try {
    if (!(await askRemote(['init', '-q', '--bare', dir])).ok) return false;
    return (await askRemote(['fetch', '-q', '--depth=1', '--', url, sha], dir)).ok;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
