// A member's workspace on a harness repo, through the worker's own code: ready from a warm mirror (an
// incremental fetch, then a worktree of the member's branch) beside a plain `git clone` of the same
// repository in the same run; and the push of a member branch after a one-file change (reins' leftover
// commit and push) beside a plain `git commit -a && git push`. The repository is generated: 10,000 files
// over 1,000 commits, served by file:// (git's own transport, not a local copy). It runs on tmpfs when the
// machine has one (/dev/shm): on this project's VM, 10,000 file creations on the disk take from 0.3 to 5 s
// depending on what else is writing, which would measure the disk, not git or reins (the floor row says so).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { commitLeftovers, importRef, pushRef } from '../../apps/worker/src/git/push.js';
import { openMirror } from '../../apps/worker/src/git/mirror.js';
import { prepareWorkspace } from '../../apps/worker/src/workspace.js';
import { tempDir } from '../../test/helpers/test-root.js';
import type { Figure } from '../lib/figure.js';
import type { BenchOptions } from '../lib/options.js';

const COMMITS = 1_000;
const FILES_PER_COMMIT = 10;
const IDENTITY = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@localhost', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@localhost' };

const git = (cwd: string, args: string[], input?: string) => execa('git', ['-C', cwd, ...args], { env: IDENTITY, ...(input !== undefined ? { input } : {}) });

/** A bare repository of COMMITS commits adding FILES_PER_COMMIT files each, written with one fast-import. */
async function generateRepository(dir: string): Promise<void> {
  await execa('git', ['init', '--quiet', '--bare', '-b', 'main', dir]);
  const chunks: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  for (let c = 1; c <= COMMITS; c += 1) {
    chunks.push(`commit refs/heads/main\nmark :${c}\ncommitter bench <bench@localhost> ${1_700_000_000 + c} +0000\n${data(`commit ${c}`)}`);
    if (c > 1) chunks.push(`from :${c - 1}\n`);
    for (let f = 0; f < FILES_PER_COMMIT; f += 1) chunks.push(`M 100644 inline src/m${c % 100}/f${c}-${f}.txt\n${data(`file ${c}-${f}\n${'line of text\n'.repeat(20)}`)}`);
    chunks.push('\n');
  }
  await git(dir, ['fast-import', '--quiet'], chunks.join(''));
}

const timed = async (work: () => Promise<unknown>): Promise<number> => {
  const start = performance.now();
  await work();
  return performance.now() - start;
};

export async function workspace(options: BenchOptions): Promise<Figure[]> {
  const onTmpfs = existsSync('/dev/shm');
  const root = onTmpfs ? await mkdtemp('/dev/shm/reins-bench-workspace-') : tempDir('bench-workspace');
  try {
    return await measure(options, root, onTmpfs);
  } finally {
    if (onTmpfs) await rm(root, { recursive: true, force: true });
  }
}

async function measure(options: BenchOptions, root: string, onTmpfs: boolean): Promise<Figure[]> {
  const origin = path.join(root, 'origin.git');
  await generateRepository(origin);
  const url = `file://${origin}`;
  const baseCommit = (await git(origin, ['rev-parse', 'main'])).stdout.trim();
  const dataDir = path.join(root, 'worker');
  const coldMs = await timed(() => openMirror(dataDir, url));

  const warm: number[] = [];
  const clone: number[] = [];
  // The floor under both: git writing the 10,000 files of one checkout, with nothing of reins around it.
  const floor: number[] = [];
  const push: number[] = [];
  const rawPush: number[] = [];
  for (let i = 0; i < options.repeats; i += 1) {
    const runId = `r-bench${String(i).padStart(4, '0')}`;
    let made: Awaited<ReturnType<typeof prepareWorkspace>> | undefined;
    warm.push(await timed(async () => (made = await prepareWorkspace({ dataDir, runId, member: 'm', workdir: undefined, repo: { url }, baseCommit }))));
    const { path: dir, mirror } = made!;
    floor.push(
      await timed(async () => {
        const at = path.join(root, `floor-${i}`);
        await git(root, ['clone', '--quiet', '--shared', '--no-checkout', made!.mirror!.dir, at]);
        await git(at, ['checkout', '--quiet', '--detach', baseCommit]);
      }),
    );
    const cloned = path.join(root, `clone-${i}`);
    clone.push(await timed(() => execa('git', ['clone', '--quiet', url, cloned], { env: IDENTITY })));

    // One file changed, then published: reins' way (leftover commit, push through the mirror) and git's.
    await writeFile(path.join(dir, 'src/m1/f1-0.txt'), `changed in sample ${i}\n`);
    push.push(
      await timed(async () => {
        const commit = await commitLeftovers(dir, 'm');
        await importRef(mirror!, dir, undefined, `refs/heads/reins/${runId}/m`, commit, baseCommit);
        const pushed = await pushRef(mirror!, commit, `refs/heads/reins/${runId}/m`);
        if (!pushed.ok) throw new Error(`bench push refused: ${pushed.refused}`);
      }),
    );
    await writeFile(path.join(cloned, 'src/m1/f1-0.txt'), `changed in raw sample ${i}\n`);
    rawPush.push(
      await timed(async () => {
        await git(cloned, ['commit', '--quiet', '-a', '-m', 'one file']);
        await git(cloned, ['push', '--quiet', 'origin', `HEAD:refs/heads/raw-${i}`]);
      }),
    );
    await rm(cloned, { recursive: true, force: true });
  }
  const floorP50 = [...floor].sort((a, b) => a - b)[Math.floor(floor.length / 2)] ?? Number.NaN;
  const where = onTmpfs ? 'on tmpfs' : 'on the disk';
  const conditions = `${COMMITS * FILES_PER_COMMIT} files, ${COMMITS} commits, file:// remote, ${where}; cold mirror (first clone of it) ${Math.round(coldMs)} ms; a bare \`git clone --shared\` and checkout of the same commit from the same mirror: p50 ${Math.round(floorP50)} ms`;
  return [
    {
      name: 'workspace',
      title: 'workspace ready for a member: warm mirror (a clone sharing its objects, at the base; fetched only when it lacks the base or dependencies)',
      unit: 'ms',
      samples: warm,
      baseline: { label: 'git clone of the same repository', samples: clone },
      conditions,
      note: 'goal ≤ 200 ms warm',
      extra: { coldMirrorMs: coldMs, sharedCloneMs: floor },
    },
    {
      name: 'workspace-push',
      title: 'push of a member branch after a one-file change',
      unit: 'ms',
      samples: push,
      baseline: { label: 'git commit -a && git push', samples: rawPush },
      conditions: `${COMMITS * FILES_PER_COMMIT} files, file:// remote, ${where}; reins stages the whole checkout (git add -A), the agent's user bundles the commit, the mirror fetches and pushes it`,
    },
  ];
}
