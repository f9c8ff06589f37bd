import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkpointCommit, checkpointRef, restoreCommit } from '../../apps/worker/src/git/checkpoint.js';

const USER = ['-c', 'user.name=Agent', '-c', 'user.email=agent@example.com', '-c', 'commit.gpgsign=false'];

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...USER, '-C', cwd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

let root: string;
let n = 0;

let template: string;

/** A repository on branch main with two commits: a.txt, keep.txt, gone.txt, .gitignore (ignores *.log). */
async function makeTemplate(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  await writeFile(path.join(dir, 'a.txt'), 'a1\n');
  await writeFile(path.join(dir, '.gitignore'), '*.log\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'first');
  await writeFile(path.join(dir, 'keep.txt'), 'keep\n');
  await writeFile(path.join(dir, 'gone.txt'), 'gone\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'second');
}

/** A fresh copy of the template repository. */
async function repo(): Promise<{ ws: string }> {
  const ws = path.join(root, `repo-${++n}`);
  await cp(template, ws, { recursive: true });
  return { ws };
}

/** Everything the agent would see of its repository: HEAD, branch, index and status. */
function agentView(ws: string) {
  return {
    head: git(ws, 'rev-parse', 'HEAD'),
    branch: git(ws, 'symbolic-ref', 'HEAD'),
    index: git(ws, 'ls-files', '-s'),
    staged: git(ws, 'diff', '--cached', '--name-status'),
    status: git(ws, 'status', '--porcelain=v1', '-uall'),
    log: git(ws, 'log', '--format=%H', 'main'),
  };
}

const treeFiles = (ws: string, commit: string) => git(ws, 'ls-tree', '-r', '--name-only', commit).split('\n').filter(Boolean).sort();
const show = (ws: string, commit: string, file: string) => git(ws, 'show', `${commit}:${file}`);

/** Makes the kinds of change an agent makes, plus skills and an ignored file. */
async function dirty(ws: string): Promise<void> {
  await writeFile(path.join(ws, 'a.txt'), 'a2 changed\n');
  await writeFile(path.join(ws, 'new.txt'), 'brand new\n');
  await mkdir(path.join(ws, 'src', 'deep'), { recursive: true });
  await writeFile(path.join(ws, 'src', 'deep', 'mod.ts'), 'export const x = 1;\n');
  await rm(path.join(ws, 'gone.txt'));
  await writeFile(path.join(ws, 'debug.log'), 'ignored\n');
  await mkdir(path.join(ws, '.claude', 'skills', 'review'), { recursive: true });
  await writeFile(path.join(ws, '.claude', 'skills', 'review', 'SKILL.md'), '# review\n');
  await writeFile(path.join(ws, '.claude', 'notes.md'), 'agent notes\n');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'reins-unit-git-'));
  template = path.join(root, 'template');
  await makeTemplate(template);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkpointRef', () => {
  it('names a ref per run and member under refs/reins/checkpoints', () => {
    expect(checkpointRef('r-abc123', 'writer')).toBe('refs/reins/checkpoints/r-abc123/writer');
  });
});

describe('checkpointCommit', () => {
  it('returns HEAD itself when nothing changed, and points the ref at it', async () => {
    const { ws } = await repo();
    const before = agentView(ws);
    const ref = checkpointRef('r-1', 'a');
    const commit = await checkpointCommit(ws, ref, 'checkpoint');
    expect(commit).toBe(before.head);
    expect(git(ws, 'rev-parse', ref)).toBe(before.head);
    expect(agentView(ws)).toEqual(before);
  });

  it('returns HEAD when only ignored files and .claude/skills changed', async () => {
    const { ws } = await repo();
    const head = git(ws, 'rev-parse', 'HEAD');
    await writeFile(path.join(ws, 'x.log'), 'ignored\n');
    await mkdir(path.join(ws, '.claude', 'skills', 's'), { recursive: true });
    await writeFile(path.join(ws, '.claude', 'skills', 's', 'SKILL.md'), '# s\n');
    expect(await checkpointCommit(ws, checkpointRef('r-1', 'a'), 'checkpoint')).toBe(head);
  });

  it('commits modified, new and deleted files on top of HEAD, without touching HEAD, branch, index or files', async () => {
    const { ws } = await repo();
    await dirty(ws);
    const before = agentView(ws);
    const ref = checkpointRef('r-2', 'writer');

    const commit = await checkpointCommit(ws, ref, 'reins checkpoint: r-2/writer, attempt 1');

    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(commit).not.toBe(before.head);
    expect(git(ws, 'rev-parse', `${commit}^`)).toBe(before.head);
    expect(git(ws, 'rev-list', '--count', `${before.head}..${commit}`)).toBe('1');
    expect(git(ws, 'log', '-1', '--format=%B', commit)).toBe('reins checkpoint: r-2/writer, attempt 1');
    expect(git(ws, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', commit)).toBe('reins <reins@localhost>|reins <reins@localhost>');

    expect(treeFiles(ws, commit)).toEqual(['.claude/notes.md', '.gitignore', 'a.txt', 'keep.txt', 'new.txt', 'src/deep/mod.ts']);
    expect(show(ws, commit, 'a.txt')).toBe('a2 changed');
    expect(show(ws, commit, 'new.txt')).toBe('brand new');
    expect(show(ws, commit, 'src/deep/mod.ts')).toBe('export const x = 1;');

    expect(git(ws, 'rev-parse', ref)).toBe(commit);
    expect(agentView(ws)).toEqual(before);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('a2 changed\n');
    expect(existsSync(path.join(ws, 'gone.txt'))).toBe(false);
  });

  it("leaves the agent's staged and unstaged changes exactly as they were", async () => {
    const { ws } = await repo();
    await writeFile(path.join(ws, 'staged.txt'), 'staged version\n');
    git(ws, 'add', 'staged.txt');
    await writeFile(path.join(ws, 'staged.txt'), 'worktree version\n');
    await writeFile(path.join(ws, 'keep.txt'), 'keep, staged\n');
    git(ws, 'add', 'keep.txt');
    const before = agentView(ws);
    const stagedBlob = git(ws, 'rev-parse', ':staged.txt');

    const commit = await checkpointCommit(ws, checkpointRef('r-3', 'a'), 'checkpoint');

    expect(agentView(ws)).toEqual(before);
    expect(git(ws, 'rev-parse', ':staged.txt')).toBe(stagedBlob);
    // The checkpoint holds the worktree, not the index.
    expect(show(ws, commit, 'staged.txt')).toBe('worktree version');
    expect(show(ws, commit, 'keep.txt')).toBe('keep, staged');
  });

  it('excludes .claude/skills but not other folders whose names start the same', async () => {
    const { ws } = await repo();
    await mkdir(path.join(ws, '.claude', 'skills', 'x'), { recursive: true });
    await writeFile(path.join(ws, '.claude', 'skills', 'x', 'SKILL.md'), '# x\n');
    await mkdir(path.join(ws, '.claude', 'skills-mine'), { recursive: true });
    await writeFile(path.join(ws, '.claude', 'skills-mine', 'a.md'), 'mine\n');
    const commit = await checkpointCommit(ws, checkpointRef('r-4', 'a'), 'checkpoint');
    const files = treeFiles(ws, commit);
    expect(files).toContain('.claude/skills-mine/a.md');
    expect(files.filter((f) => f.startsWith('.claude/skills/'))).toEqual([]);
  });

  it('builds each checkpoint on HEAD and moves the ref to the newest', async () => {
    const { ws } = await repo();
    const head = git(ws, 'rev-parse', 'HEAD');
    const ref = checkpointRef('r-5', 'a');
    await writeFile(path.join(ws, 'new.txt'), 'one\n');
    const first = await checkpointCommit(ws, ref, 'checkpoint 1');
    await writeFile(path.join(ws, 'new.txt'), 'two\n');
    const second = await checkpointCommit(ws, ref, 'checkpoint 2');
    expect(second).not.toBe(first);
    expect(git(ws, 'rev-parse', `${second}^`)).toBe(head);
    expect(git(ws, 'rev-parse', ref)).toBe(second);
    expect(show(ws, second, 'new.txt')).toBe('two');
    expect(git(ws, 'rev-parse', 'HEAD')).toBe(head);
  });

  it("works in a linked worktree on the member's branch, leaving the main checkout alone", async () => {
    const { ws: main } = await repo();
    const wt = path.join(root, `wt-${++n}`);
    git(main, 'worktree', 'add', '-q', '-b', 'reins/r-6/a', wt, 'HEAD');
    const mainBefore = agentView(main);
    const wtHead = git(wt, 'rev-parse', 'HEAD');
    await writeFile(path.join(wt, 'a.txt'), 'from the worktree\n');
    await writeFile(path.join(wt, 'wt-new.txt'), 'new\n');
    const wtStatus = git(wt, 'status', '--porcelain=v1', '-uall');

    const ref = checkpointRef('r-6', 'a');
    const commit = await checkpointCommit(wt, ref, 'checkpoint');

    expect(git(main, 'rev-parse', `${commit}^`)).toBe(wtHead);
    expect(show(main, commit, 'a.txt')).toBe('from the worktree');
    expect(show(main, commit, 'wt-new.txt')).toBe('new');
    // refs/ is shared between worktrees: another worktree of the repo sees the checkpoint.
    expect(git(main, 'rev-parse', ref)).toBe(commit);
    expect(git(wt, 'rev-parse', 'HEAD')).toBe(wtHead);
    expect(git(wt, 'symbolic-ref', 'HEAD')).toBe('refs/heads/reins/r-6/a');
    expect(git(wt, 'status', '--porcelain=v1', '-uall')).toBe(wtStatus);
    expect(agentView(main)).toEqual(mainBefore);
  });
});

describe('restoreCommit', () => {
  it('puts the worktree back at a checkpoint: files back, later untracked files gone, skills and ignored files kept', async () => {
    const { ws } = await repo();
    await dirty(ws);
    const commit = await checkpointCommit(ws, checkpointRef('r-7', 'a'), 'checkpoint');

    // Later work that the checkpoint does not know.
    await writeFile(path.join(ws, 'a.txt'), 'a3 after the checkpoint\n');
    await writeFile(path.join(ws, 'later.txt'), 'later\n');
    await mkdir(path.join(ws, 'later-dir', 'inner'), { recursive: true });
    await writeFile(path.join(ws, 'later-dir', 'inner', 'f.txt'), 'later\n');
    await rm(path.join(ws, 'new.txt'));
    await rm(path.join(ws, 'src'), { recursive: true });
    await writeFile(path.join(ws, 'keep.txt'), 'keep, edited later\n');
    git(ws, 'add', 'keep.txt');

    expect(await restoreCommit(ws, commit)).toBe(true);

    expect(git(ws, 'rev-parse', 'HEAD')).toBe(commit);
    expect(git(ws, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(git(ws, 'rev-parse', 'main')).toBe(commit);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('a2 changed\n');
    expect(await readFile(path.join(ws, 'new.txt'), 'utf8')).toBe('brand new\n');
    expect(await readFile(path.join(ws, 'keep.txt'), 'utf8')).toBe('keep\n');
    expect(await readFile(path.join(ws, 'src', 'deep', 'mod.ts'), 'utf8')).toBe('export const x = 1;\n');
    expect(existsSync(path.join(ws, 'later.txt'))).toBe(false);
    expect(existsSync(path.join(ws, 'later-dir'))).toBe(false);
    expect(existsSync(path.join(ws, 'gone.txt'))).toBe(false);
    expect(await readFile(path.join(ws, '.claude', 'skills', 'review', 'SKILL.md'), 'utf8')).toBe('# review\n');
    expect(await readFile(path.join(ws, 'debug.log'), 'utf8')).toBe('ignored\n');
    // Nothing is left staged or modified, apart from the skills (untracked, excluded).
    expect(git(ws, 'status', '--porcelain=v1', '-uall')).toBe('?? .claude/skills/review/SKILL.md');
  });

  it('keeps .claude/skills when it is the only thing under an untracked .claude folder', async () => {
    const { ws } = await repo();
    const head = git(ws, 'rev-parse', 'HEAD');
    await mkdir(path.join(ws, '.claude', 'skills', 's'), { recursive: true });
    await writeFile(path.join(ws, '.claude', 'skills', 's', 'SKILL.md'), '# s\n');
    await writeFile(path.join(ws, '.claude', 'stray.md'), 'stray\n');
    expect(await restoreCommit(ws, head)).toBe(true);
    expect(await readFile(path.join(ws, '.claude', 'skills', 's', 'SKILL.md'), 'utf8')).toBe('# s\n');
    expect(existsSync(path.join(ws, '.claude', 'stray.md'))).toBe(false);
  });

  it('returns false for a commit that is not in this repository, and changes nothing', async () => {
    const { ws } = await repo();
    await writeFile(path.join(ws, 'a.txt'), 'uncommitted\n');
    await writeFile(path.join(ws, 'untracked.txt'), 'u\n');
    const before = agentView(ws);
    expect(await restoreCommit(ws, 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef')).toBe(false);
    expect(await restoreCommit(ws, 'not-a-sha')).toBe(false);
    expect(agentView(ws)).toEqual(before);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('uncommitted\n');
    expect(await readFile(path.join(ws, 'untracked.txt'), 'utf8')).toBe('u\n');
  });

  it('returns false for an object that is not a commit', async () => {
    const { ws } = await repo();
    const blob = git(ws, 'rev-parse', 'HEAD:a.txt');
    expect(await restoreCommit(ws, blob)).toBe(false);
  });

  it('restores a checkpoint taken in another worktree of the same repository', async () => {
    const { ws: main } = await repo();
    const wt1 = path.join(root, `wt-${++n}`);
    git(main, 'worktree', 'add', '-q', '-b', 'reins/r-8/a', wt1, 'HEAD');
    await writeFile(path.join(wt1, 'work.txt'), 'done in attempt 1\n');
    const commit = await checkpointCommit(wt1, checkpointRef('r-8', 'a'), 'checkpoint');
    await rm(wt1, { recursive: true, force: true });
    git(main, 'worktree', 'prune');

    const wt2 = path.join(root, `wt-${++n}`);
    git(main, 'worktree', 'add', '-q', wt2, 'reins/r-8/a');
    expect(await restoreCommit(wt2, commit)).toBe(true);
    expect(await readFile(path.join(wt2, 'work.txt'), 'utf8')).toBe('done in attempt 1\n');
    expect(git(main, 'rev-parse', 'reins/r-8/a')).toBe(commit);
  });
});
