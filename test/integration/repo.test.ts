import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { createBareRepository, gitEnv } from '../helpers/git-remote.js';
import { CHAOS_ENV, storeOf } from '../helpers/chaos.js';

const redis = useRedis();

/** A bare repository with one commit on main (README.md), and git run against it with a scratch HOME. */
async function bareRemote(): Promise<{ dir: string; url: string; git: (...args: string[]) => string }> {
  const repo = await createBareRepository(tempDir('remote'), 'origin', { files: { 'README.md': 'base\n' } });
  const env = gitEnv();
  return { dir: repo.gitDir, url: `file://${repo.gitDir}`, git: (...args) => execFileSync('git', ['-C', repo.gitDir, ...args], { encoding: 'utf8', env }).trim() };
}

/** A command agent that writes files with sh (content from argv, never through the shell's parser) and commits nothing. */
const writes = (script: string, ...args: string[]) => ({ kind: 'command', argv: ['sh', '-c', script, 'sh', ...args] });

const keysOf = async (prefix: string) => redis.client.keys(`{${prefix}}*`);

describe('a harness repo: hosts that share only Redis and a git remote', () => {
  it('members branch from the remote, dependants start from their dependencies, and branches and result are pushed', async () => {
    const remote = await bareRemote();
    const file = await writeHarness(tempDir('repo-harness'), {
      name: 'remote-team',
      repo: { url: remote.url },
      team: [
        { name: 'left', prompt: 'l', agent: writes('printf "left\\n" > left.txt') },
        { name: 'right', prompt: 'r', agent: writes('mkdir -p docs && printf "right\\n" > docs/right.txt') },
        // What it found at its start is what it records: both dependencies' files.
        { name: 'joined', prompt: 'j', depends_on: ['left', 'right'], agent: writes('cat left.txt docs/right.txt > seen.txt') },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV, workers: 0 }, async (fleet) => {
      // Two workers with data dirs of their own: nothing of one's mirror or worktrees is the other's.
      await fleet.startWorker('w1', { REINS_DATA_DIR: tempDir('host1') });
      await fleet.startWorker('w2', { REINS_DATA_DIR: tempDir('host2') });
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as {
        runId: string;
        repo: { url: string; baseCommit: string };
        resultBranch: string;
        resultCommit: string;
        members: { name: string; branch: string; commit: string }[];
      };
      const { runId } = view;
      expect(view.repo).toEqual({ url: remote.url, baseCommit: remote.git('rev-parse', 'main') });
      for (const name of ['left', 'right', 'joined']) {
        const member = view.members.find((m) => m.name === name)!;
        expect(member.branch).toBe(`reins/${runId}/${name}`);
        // The pushed commit is the remote's branch.
        expect(remote.git('rev-parse', `refs/heads/reins/${runId}/${name}`)).toBe(member.commit);
        expect(remote.git('log', '-1', '--format=%s', member.commit)).toBe(`reins: work ${name} left uncommitted`);
      }
      expect(remote.git('show', `reins/${runId}/joined:seen.txt`)).toBe('left\nright');
      expect(view.resultBranch).toBe(`reins/${runId}/result`);
      expect(remote.git('rev-parse', `refs/heads/reins/${runId}/result`)).toBe(view.resultCommit);
      const files = remote.git('ls-tree', '-r', '--name-only', view.resultCommit).split('\n').sort();
      expect(files).toEqual(['README.md', 'docs/right.txt', 'left.txt', 'seen.txt']);
      // The remote's own branch is untouched.
      expect(remote.git('log', '--format=%s', 'main')).toBe('origin: initial commit');
    });
  });

  it('fails a member whose dependencies conflict where it starts, at once and naming the files (merge_conflict)', async () => {
    const remote = await bareRemote();
    const file = await writeHarness(tempDir('conflict-harness'), {
      name: 'conflicting-start',
      repo: { url: remote.url },
      retry: { attempts: 3 },
      team: [
        { name: 'a', prompt: 'a', agent: writes('printf "from a\\n" > README.md') },
        { name: 'b', prompt: 'b', agent: writes('printf "from b\\n" > README.md') },
        { name: 'c', prompt: 'c', depends_on: ['a', 'b'], agent: writes('true') },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { runId: string; status: string; members: { name: string; status: string; attempts: number; error?: string }[] };
      expect(view.status).toBe('failed');
      const c = view.members.find((m) => m.name === 'c')!;
      expect(c).toMatchObject({ status: 'failed', attempts: 1 });
      expect(c.error).toContain('merging b conflicts in README.md');
      expect((await storeOf(redis.client, fleet).readAttempts(view.runId, 'c')).map((a) => a.outcome)).toEqual(['merge_conflict']);
    });
  });

  it('fails a member whose push the remote refuses (push_rejected), with its message, and keeps the commit in the mirror', async () => {
    const remote = await bareRemote();
    const hook = path.join(remote.dir, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "branches of refused are protected here"\nwhile read old new ref; do case "$ref" in */refused) exit 1;; esac; done\nexit 0\n');
    chmodSync(hook, 0o755);
    const file = await writeHarness(tempDir('refused-harness'), {
      name: 'refused-push',
      repo: { url: remote.url },
      team: [{ name: 'refused', prompt: 'r', agent: writes('printf "work\\n" > work.txt') }],
    });
    const dataDir = tempDir('refused-host');
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV, workers: 0 }, async (fleet) => {
      await fleet.startWorker('w1', { REINS_DATA_DIR: dataDir });
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { runId: string; members: { status: string; attempts: number; error?: string }[] };
      const member = view.members[0]!;
      expect(member).toMatchObject({ status: 'failed', attempts: 1 });
      expect(member.error).toContain('pre-receive hook declined');
      expect(member.error).toContain('branches of refused are protected here');
      const kept = /the commit ([0-9a-f]{40}) is kept on \S+ in (\S+) \(branch (\S+)\)/.exec(member.error ?? '');
      expect(kept, member.error).not.toBeNull();
      const [, commit, mirror, branch] = kept!;
      expect(mirror!.startsWith(path.join(dataDir, 'mirrors'))).toBe(true);
      expect(execFileSync('git', ['-C', mirror!, 'rev-parse', `refs/heads/${branch}`], { encoding: 'utf8' }).trim()).toBe(commit);
      expect(execFileSync('git', ['-C', mirror!, 'show', `${commit}:work.txt`], { encoding: 'utf8' })).toBe('work\n');
      expect(remote.git('for-each-ref', '--format=%(refname)', 'refs/heads/reins')).toBe('');
      expect((await storeOf(redis.client, fleet).readAttempts(view.runId, 'refused')).map((a) => a.outcome)).toEqual(['push_rejected']);
      expect((await fleet.reins(['status', view.runId])).stdout).toContain(`is kept on`);
    });
  });

  it('refuses a repo it cannot use at submit, naming the field, with nothing in Redis', async () => {
    const remote = await bareRemote();
    const dir = tempDir('bad-repo');
    const cases: { repo: unknown; workdir?: string; field: string; says: string; hides?: string }[] = [
      { repo: { url: `file://${dir}/nowhere.git` }, field: 'repo.url', says: `cannot read file://${dir}/nowhere.git` },
      { repo: { url: remote.url, ref: 'no-such-branch' }, field: 'repo.ref', says: 'no branch or tag "no-such-branch"' },
      { repo: { url: remote.url, ref: 'a'.repeat(40) }, field: 'repo.ref', says: `no commit ${'a'.repeat(40)}` },
      { repo: { url: 'https://alice:s3cret-token@git.example.com/team/app.git' }, field: 'repo.url', says: 'https://alice:***@git.example.com/team/app.git', hides: 's3cret-token' },
      { repo: { url: '--upload-pack=touch /tmp/owned' }, field: 'repo.url', says: 'expected a git URL' },
      { repo: { url: remote.url }, workdir: dir, field: 'repo', says: 'expected repo or workdir, not both' },
    ];
    await withFleet({ redisUrl: redis.url, env: CHAOS_ENV, workers: 0, scheduler: false }, async (fleet) => {
      for (const [i, c] of cases.entries()) {
        const file = await writeHarness(dir, { name: 'bad', repo: c.repo, ...(c.workdir ? { workdir: c.workdir } : {}), team: [{ name: 'm', prompt: 'p', agent: writes('true') }] }, `bad-${i}.yaml`);
        const result = await fleet.reins(['submit', file]);
        expect(result.exitCode, `${c.field}: ${result.stderr}`).toBe(2);
        expect(result.stderr).toContain(`${c.field}: `);
        expect(result.stderr).toContain(c.says);
        if (c.hides) expect(result.stderr + result.stdout).not.toContain(c.hides);
      }
      expect(await keysOf(fleet.prefix)).toEqual([]);
      // A ref that names a tag resolves to the commit the tag points at.
      remote.git('tag', '-a', '-m', 'release', 'v1', 'main');
      const ok = await writeHarness(dir, { name: 'tagged', repo: { url: remote.url, ref: 'v1' }, team: [{ name: 'm', prompt: 'p', agent: writes('true') }] }, 'tagged.yaml');
      const submitted = await fleet.reins(['submit', ok, '--json']);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
    });
  });
});
