import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { AgentUser } from '../agent-user.js';
import { git } from './git.js';
import { hasCommit, lastLines, withMirror, type Mirror } from './mirror.js';

/** A push the remote refused (a protected ref, a hook that said no), with what it said. */
export type PushOutcome = { ok: true } | { ok: false; refused: string };

/**
 * Pushes `commit` to `ref` on the mirror's remote, replacing what is there (reins owns its refs). A refusal
 * comes back as an outcome; a remote that cannot be reached throws, so the attempt is retried.
 */
export async function pushRef(mirror: Mirror, commit: string, ref: string): Promise<PushOutcome> {
  const result = await git(mirror.dir, ['push', '--porcelain', '--quiet', 'origin', `+${commit}:${ref}`], { remote: true, reject: false });
  if (result.exitCode === 0) return { ok: true };
  // --porcelain marks a refused ref with "!" and says why in brackets; a hook's own words come as "remote:" lines.
  const refusedLine = result.stdout.split('\n').find((line) => line.startsWith('!'));
  if (refusedLine === undefined) throw new Error(`git push to ${mirror.url} failed: ${lastLines(result.stderr)}`);
  const reason = refusedLine.split('\t').at(-1)?.trim() ?? 'refused';
  const remoteSaid = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('remote:'))
    .map((line) => line.replace(/^remote:\s*/, '').trim())
    .filter(Boolean)
    .slice(-5)
    .join(' / ');
  return { ok: false, refused: remoteSaid ? `${reason}: ${remoteSaid}` : reason };
}

/**
 * Commits what the agent left uncommitted on its branch, as one commit by reins (what reins put in the
 * workspace is left out by the repository's local exclude). Returns the branch's commit.
 */
export async function commitLeftovers(workspace: string, member: string, as?: AgentUser): Promise<string> {
  await git(workspace, ['add', '-A'], { as });
  const staged = await git(workspace, ['diff', '--cached', '--quiet'], { reject: false, as });
  if (staged.exitCode !== 0) await git(workspace, ['commit', '--quiet', '--no-verify', '-m', `reins: work ${member} left uncommitted`], { as });
  return commitId((await git(workspace, ['rev-parse', 'HEAD'], { as })).stdout);
}

/** A commit id read from git in an agent's repository: what the agent's git printed is checked, not trusted. */
export function commitId(text: string): string {
  const id = text.trim();
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(id)) throw new Error(`git printed ${JSON.stringify(id.slice(0, 80))} where a commit id was expected`);
  return id;
}

/**
 * Brings `ref` of a member's clone (at `commit`) into the mirror, under the same name, so the mirror can
 * push it. The agent's own git writes a bundle of what the mirror lacks to a file the worker opened; the
 * mirror fetches from that file. The worker never runs git in the agent's repository, nor reads a path the
 * agent chose. Nothing is fetched when the mirror has the commit already (the base, a dependency's work).
 */
export async function importRef(mirror: Mirror, workspace: string, as: AgentUser | undefined, ref: string, commit: string, base: string | undefined): Promise<void> {
  await withMirror(mirror, async () => {
    if (await hasCommit(mirror, commit)) {
      await git(mirror.dir, ['update-ref', ref, commit]);
      return;
    }
    const bundle = `${mirror.dir}.import-${randomUUID()}.bundle`;
    try {
      const made = await git(workspace, ['bundle', 'create', '--quiet', '-', ref, ...(base ? [`^${base}`] : [])], { as, reject: false, stdoutFile: bundle });
      if (made.exitCode !== 0) throw new Error(`git bundle of ${ref} in ${workspace} failed: ${lastLines(made.stderr)}`);
      const fetched = await git(mirror.dir, ['fetch', '--quiet', '--no-write-fetch-head', bundle, `+${ref}:${ref}`], { reject: false });
      if (fetched.exitCode !== 0) throw new Error(`the mirror could not take ${ref} from ${workspace}: ${lastLines(fetched.stderr)}`);
    } finally {
      await rm(bundle, { force: true });
    }
    const landed = (await git(mirror.dir, ['rev-parse', '--verify', '--quiet', ref], { reject: false })).stdout.trim();
    if (landed !== commit) throw new Error(`the mirror took ${ref} at ${landed || 'nothing'}, not at ${commit}`);
  });
}
