import { git } from './git.js';
import { lastLines, type Mirror } from './mirror.js';

/** A push the remote refused (a protected ref, a hook that said no), with what it said. */
export type PushOutcome = { ok: true } | { ok: false; refused: string };

/**
 * Pushes `commit` to `ref` on the mirror's remote, replacing what is there (reins owns its refs). A refusal
 * comes back as an outcome; a remote that cannot be reached throws, so the attempt is retried.
 */
export async function pushRef(mirror: Mirror, cwd: string, commit: string, ref: string): Promise<PushOutcome> {
  const result = await git(cwd, ['push', '--porcelain', '--quiet', 'origin', `+${commit}:${ref}`], { remote: true, reject: false });
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
export async function commitLeftovers(workspace: string, member: string): Promise<string> {
  await git(workspace, ['add', '-A']);
  const staged = await git(workspace, ['diff', '--cached', '--quiet'], { reject: false });
  if (staged.exitCode !== 0) await git(workspace, ['commit', '--quiet', '--no-verify', '-m', `reins: work ${member} left uncommitted`]);
  return (await git(workspace, ['rev-parse', 'HEAD'])).stdout.trim();
}
