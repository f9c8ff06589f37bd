import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf } from '../helpers/chaos.js';

const redis = useRedis();

function repoWith(files: Record<string, string>): { repo: string; git: (...args: string[]) => string } {
  const repo = tempDir('repo');
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  for (const [name, content] of Object.entries(files)) execFileSync('sh', ['-c', 'printf %s "$2" > "$1"', 'sh', path.join(repo, name), content]);
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  return { repo, git };
}

/** A command agent that writes a file and commits it on its own branch. */
const writes = (file: string, content: string) => ({
  kind: 'command',
  argv: ['sh', '-c', 'printf %s "$2" > "$1" && git add -A && git -c user.name=a -c user.email=a@a commit -q -m "$REINS_MEMBER"', 'sh', file, content],
});

describe('worktrees and merge-back', () => {
  it("merges the members' branches in dependency order into reins/<run>/result, leaving the repo's branches alone", async () => {
    const { repo, git } = repoWith({ 'README.md': 'base\n' });
    const file = await writeHarness(tempDir('merge-harness'), {
      name: 'merged',
      workdir: repo,
      team: [
        { name: 'docs', prompt: 'docs', depends_on: ['api'], agent: writes('DOCS.md', 'docs for the api\n') },
        { name: 'api', prompt: 'api', agent: writes('api.txt', 'the api\n') },
        { name: 'ui', prompt: 'ui', agent: writes('ui.txt', 'the ui\n') },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const runId = (JSON.parse(result.stdout) as { runId: string }).runId;
      const run = await storeOf(redis.client, fleet).getRun(runId);
      expect(run).toMatchObject({ integration: 'done', resultBranch: `reins/${runId}/result`, conflicts: [] });
      expect(git('rev-parse', `reins/${runId}/result`)).toBe(run!.resultCommit);
      expect(git('log', '--format=%s', '--no-merges', `reins/${runId}/result`).split('\n').sort()).toEqual(['api', 'base', 'docs', 'ui']);
      expect(git('show', `reins/${runId}/result:api.txt`)).toBe('the api');
      expect(git('show', `reins/${runId}/result:DOCS.md`)).toBe('docs for the api');
      expect(git('show', `reins/${runId}/result:ui.txt`)).toBe('the ui');
      // api is merged before docs, which depends on it.
      const merges = git('log', '--format=%s', '--merges', '--reverse', `reins/${runId}/result`).split('\n');
      expect(merges.indexOf(`reins: merge api into reins/${runId}/result`)).toBeLessThan(merges.indexOf(`reins: merge docs into reins/${runId}/result`));
      expect(git('branch', '--show-current')).toBe('main');
      expect(git('log', '--format=%s', 'main')).toBe('base');
      expect(git('status', '--porcelain')).toBe('');
      const member = await storeOf(redis.client, fleet).getMember(runId, 'api');
      expect(member).toMatchObject({ branch: `reins/${runId}/api`, diffStat: '1 file changed, 1 insertion(+)' });
      const status = await fleet.reins(['status', runId]);
      expect(status.stdout).toContain(`result: reins/${runId}/result at ${run!.resultCommit!.slice(0, 12)}`);
      // The board shows the same: each member's branch and diff stat, and the result.
      const board = await fleet.startBoard(await freePort());
      const page = await (await fetch(`${board}/runs/${runId}`)).text();
      expect(page).toContain(`reins/${runId}/api</span> <span class="muted">· 1 file changed, 1 insertion(+)`);
      expect(page).toContain(`reins/${runId}/result</span> <span class="muted">${run!.resultCommit!.slice(0, 12)}`);
      expect(status.stdout).toContain(`branch:    reins/${runId}/api (1 file changed, 1 insertion(+))`);
    });
  });

  it('reports conflicts per file and fails the run, keeping what merged', async () => {
    const { repo, git } = repoWith({ 'shared.txt': 'base\n' });
    const file = await writeHarness(tempDir('conflict-harness'), {
      name: 'conflicted',
      workdir: repo,
      team: [
        { name: 'left', prompt: 'l', agent: writes('shared.txt', 'left\n') },
        { name: 'right', prompt: 'r', agent: writes('shared.txt', 'right\n') },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { runId: string; status: string; members: { status: string }[] };
      expect(view.status).toBe('failed');
      expect(view.members.map((m) => m.status)).toEqual(['succeeded', 'succeeded']);
      const run = await storeOf(redis.client, fleet).getRun(view.runId);
      expect(run?.conflicts).toEqual([{ member: 'right', files: ['shared.txt'] }]);
      expect((await fleet.reins(['status', view.runId])).stdout).toContain('conflict: right could not be merged (shared.txt)');
      expect(git('show', `reins/${view.runId}/result:shared.txt`)).toBe('left');
      expect(git('status', '--porcelain')).toBe('');
    });
  });

  it('removes worktrees of runs past their retention, and orphaned ones, when a worker starts', async () => {
    const { repo, git } = repoWith({ 'a.txt': 'a\n' });
    const file = await writeHarness(tempDir('cleanup-harness'), { name: 'cleanup', workdir: repo, team: [{ name: 'solo', prompt: 's', agent: writes('b.txt', 'b\n') }] });
    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_WORKTREE_RETENTION_MS: '1' } }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const runId = (JSON.parse(result.stdout) as { runId: string }).runId;
      const worktree = path.join(fleet.dataDir, 'worktrees', runId, 'solo');
      const orphan = path.join(fleet.dataDir, 'worktrees', 'r-orphaned000', 'ghost');
      git('worktree', 'add', '-q', '-b', 'ghost', orphan);
      expect(existsSync(worktree)).toBe(true);
      await fleet.workers[0]!.stop();
      const restarted = await fleet.startWorker('w1');
      expect(existsSync(worktree)).toBe(false);
      expect(existsSync(orphan)).toBe(false);
      expect(restarted.log()).toContain('"reason":"orphaned"');
      expect(git('worktree', 'list')).not.toContain(worktree);
      // The branches stay.
      expect(git('rev-parse', '--verify', `reins/${runId}/solo`)).toMatch(/^[0-9a-f]{40}$/);
    });
  });
});
