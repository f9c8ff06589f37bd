import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withFleet, writeHarness, type Fleet, type RoleHandle } from '../helpers/fleet.js';
import { CHAOS_ENV, storeOf, waitFor } from '../helpers/chaos.js';
import { createBareRepository, gitEnv, probeGitDaemon, startGitDaemonOn, type GitDaemon } from '../helpers/git-remote.js';
import { createTestNetwork, killTmuxServer, probeNetns, processesOn, startRedisOn, startWorkerOn, tmuxSocketOf, type ServiceRedis, type TestHost, type TestNetwork } from '../helpers/netns.js';
import { tempDir } from '../helpers/test-root.js';

/**
 * Hosts that share nothing but Redis and a git remote: two test hosts (network, mount and UTS namespaces),
 * each with a data dir of its own, on which the submitter's folder (harness, skills) and the remote's
 * folder are hidden. The remote is reached over git:// only; Redis and the scheduler are on the machine.
 */
const netns = probeNetns();
const support = netns.ok ? probeGitDaemon() : netns;
const title = support.ok ? 'hosts that share nothing but Redis and a git remote' : `hosts that share nothing but Redis and a git remote: skipped, ${support.reason}`;
if (!support.ok) console.warn(`test/multihost: cannot build test hosts, so the share-nothing test is skipped: ${support.reason}`);

interface HostWorker {
  host: TestHost;
  id: string;
  socket: string;
  handle: RoleHandle;
}

describe.skipIf(!support.ok)(title, () => {
  let network: TestNetwork | undefined;
  let redis: ServiceRedis | undefined;
  let daemon: GitDaemon | undefined;
  let submitter: string;
  let remoteRoot: string;

  beforeAll(async () => {
    submitter = tempDir('submitter');
    remoteRoot = tempDir('remote');
    network = await createTestNetwork(2, { hide: [submitter, remoteRoot] });
    redis = await startRedisOn(network.serviceAddress);
    daemon = await startGitDaemonOn(network.serviceAddress, remoteRoot);
  });

  afterAll(async () => {
    try {
      await daemon?.stop();
      await redis?.stop();
    } finally {
      await network?.destroy();
    }
  });

  /** The remote's repository, read on the machine's side. */
  const remoteGit = (name: string, ...args: string[]) => execFileSync('git', ['-C', path.join(remoteRoot, name), ...args], { encoding: 'utf8', env: gitEnv() }).trim();

  /** A worker on each host (concurrency 1), stopped at the end with its tmux server. */
  async function withHostWorkers<T>(fleet: Fleet, story: (workers: HostWorker[]) => Promise<T>, envOf: (host: TestHost) => Record<string, string> = () => ({})): Promise<T> {
    const workers: HostWorker[] = [];
    try {
      for (const host of network!.hosts) {
        const id = `w-h${host.index}`;
        const handle = await startWorkerOn(host, { id, env: { ...fleet.env, REINS_WORKER_CONCURRENCY: '1', ...envOf(host) }, logDir: path.join(fleet.dataDir, 'logs') });
        workers.push({ host, id, socket: tmuxSocketOf(host.dataDir, id), handle });
      }
      return await story(workers);
    } finally {
      await Promise.all(workers.map((w) => w.handle.stop(5_000)));
      for (const w of workers) await killTmuxServer(w.socket);
    }
  }

  it("runs a team across two hosts from the remote: dependencies' work arrives on the other host, branches and the result land on the remote", async () => {
    const repo = await createBareRepository(remoteRoot, 'team', { files: { 'README.md': '# team\n' } });
    const url = daemon!.url(repo.name);
    // A skill from the submitter's skillPaths: the submitter's folder is hidden on both hosts.
    await mkdir(path.join(submitter, 'skills', 'team-notes'), { recursive: true });
    await writeFile(path.join(submitter, 'skills', 'team-notes', 'SKILL.md'), '---\nname: team-notes\ndescription: Notes for the team.\n---\nWrite notes.\n');
    // Both independent members wait until both have started: with one slot per worker, that is one on each host.
    const both = tempDir('both-started');
    const independent = (file: string, text: string) => ({
      kind: 'command',
      argv: [
        'sh',
        '-c',
        'touch "$1/$REINS_MEMBER" && while [ ! -e "$1/left" ] || [ ! -e "$1/right" ]; do sleep 0.05; done && printf "%s\\n" "$3" > "$2" && hostname > "host-$REINS_MEMBER.txt" && cp .claude/skills/team-notes/SKILL.md "skill-$REINS_MEMBER.txt"',
        'sh',
        both,
        file,
        text,
      ],
    });
    const file = await writeHarness(submitter, {
      name: 'share-nothing',
      repo: { url },
      skillPaths: ['skills'],
      team: [
        { name: 'left', prompt: 'l', skills: ['team-notes'], agent: independent('left.txt', 'from the left') },
        { name: 'right', prompt: 'r', skills: ['team-notes'], agent: independent('right.txt', 'from the right') },
        { name: 'joined', prompt: 'j', depends_on: ['left', 'right'], agent: { kind: 'command', argv: ['sh', '-c', 'cat left.txt right.txt > seen.txt'] } },
      ],
    });
    await withFleet({ redisUrl: redis!.url, workers: 0, env: CHAOS_ENV }, async (fleet) => {
      await withHostWorkers(fleet, async (workers) => {
        const result = await fleet.reins(['submit', file, '--wait', '--json'], { timeoutMs: 120_000 });
        expect(result.exitCode, result.stderr + result.stdout).toBe(0);
        const view = JSON.parse(result.stdout) as { runId: string; resultCommit: string; members: { name: string; commit: string }[] };
        const { runId } = view;
        const at = (rev: string, name: string) => remoteGit(repo.name, 'show', `${rev}:${name}`);
        // Each independent member ran on its own host, and found the skill there.
        const hosts = ['left', 'right'].map((m) => at(`reins/${runId}/${m}`, `host-${m}.txt`)).sort();
        expect(hosts).toEqual(workers.map((w) => w.host.hostName).sort());
        for (const m of ['left', 'right']) expect(at(`reins/${runId}/${m}`, `skill-${m}.txt`)).toContain('name: team-notes');
        // The dependant saw both dependencies' files at its start, whichever host it ran on.
        expect(at(`reins/${runId}/joined`, 'seen.txt')).toBe('from the left\nfrom the right');
        for (const m of view.members) expect(remoteGit(repo.name, 'rev-parse', `refs/heads/reins/${runId}/${m.name}`)).toBe(m.commit);
        expect(remoteGit(repo.name, 'rev-parse', `refs/heads/reins/${runId}/result`)).toBe(view.resultCommit);
        const files = remoteGit(repo.name, 'ls-tree', '-r', '--name-only', view.resultCommit).split('\n').sort();
        expect(files).toEqual(['README.md', 'host-left.txt', 'host-right.txt', 'left.txt', 'right.txt', 'seen.txt', 'skill-left.txt', 'skill-right.txt']);
      });
    });
  });

  it('resumes a member on the other host after its host is killed, with the files of its checkpoint', async () => {
    const repo = await createBareRepository(remoteRoot, 'resume', { files: { 'README.md': '# resume\n' } });
    // Attempt 1 writes its work, then works on until its host dies; a later attempt needs that work.
    const agent = {
      kind: 'command',
      argv: ['sh', '-c', 'if [ "$REINS_ATTEMPT" -gt 1 ]; then cp before.txt after.txt && hostname > resumed-on.txt; else printf "written before\\n" > before.txt; while :; do sleep 1; done; fi'],
    };
    const file = await writeHarness(submitter, { name: 'resumed', repo: { url: daemon!.url(repo.name) }, retry: { attempts: 3 }, team: [{ name: 'solo', prompt: 's', agent }] }, 'resume.yaml');
    await withFleet({ redisUrl: redis!.url, workers: 0, env: CHAOS_ENV }, async (fleet) => {
      await withHostWorkers(fleet, async (workers) => {
        const submitted = await fleet.reins(['submit', file]);
        expect(submitted.exitCode, submitted.stderr).toBe(0);
        const runId = submitted.stdout.trim();
        const store = storeOf(redis!.client, fleet);
        // The checkpoint holds before.txt, and it is on the remote before the cursor names it.
        const cursor = await waitFor(async () => {
          const c = await store.readCursor(runId, 'solo');
          return c?.commit && remoteGit(repo.name, 'ls-tree', '--name-only', c.commit).includes('before.txt') ? c : undefined;
        }, 'a checkpoint with before.txt');
        expect(remoteGit(repo.name, 'rev-parse', `refs/reins/checkpoints/${runId}/solo`)).toBe(cursor.commit);
        const first = (await store.getMember(runId, 'solo'))!;
        const dying = workers.find((w) => w.host.hostName === first.host)!;
        const other = workers.find((w) => w !== dying)!;
        // The host dies: every process on it, the worker, its tmux server and the agent, at once.
        const onHost = await processesOn(dying.host);
        // A process listed a moment ago may have ended since (the agent's own `sleep`s do): that one is gone already.
        for (const p of onHost) killIfAlive(p.pid);
        await dying.handle.kill9();
        await waitFor(async () => (await processesOn(dying.host)).length === 0, 'nothing left running on the killed host');
        const member = await waitFor(
          async () => {
            const m = await store.getMember(runId, 'solo');
            return m && ['succeeded', 'failed'].includes(m.status) ? m : undefined;
          },
          'the member to end on the other host',
          60_000,
        );
        expect(member.status, member.error).toBe('succeeded');
        expect(member.host).toBe(other.host.hostName);
        const branch = `reins/${runId}/solo`;
        expect(remoteGit(repo.name, 'show', `${branch}:after.txt`)).toBe('written before');
        expect(remoteGit(repo.name, 'show', `${branch}:resumed-on.txt`)).toBe(other.host.hostName);
      });
    });
  });

  it("hands a scratch member's files to its dependant on the other host under inputs/, and fails a workspace over the cap", async () => {
    // Labels put each member on a host of its own; REINS_ARTIFACT_MAX_BYTES is the workers' cap.
    const file = await writeHarness(
      submitter,
      {
        name: 'scratch-hosts',
        team: [
          { name: 'english', prompt: 'e', requires: ['h1'], agent: { kind: 'command', argv: ['sh', '-c', 'mkdir -p out && printf "hello\\n" > out/english.txt && hostname > host.txt'] } },
          { name: 'french', prompt: 'f', requires: ['h2'], depends_on: ['english'], agent: { kind: 'command', argv: ['sh', '-c', 'cat inputs/english/out/english.txt inputs/english/host.txt > seen.txt'] } },
          { name: 'big', prompt: 'b', requires: ['h1'], agent: { kind: 'command', argv: ['sh', '-c', 'head -c 10000 /dev/zero > big.bin'] } },
        ],
      },
      'scratch.yaml',
    );
    await withFleet({ redisUrl: redis!.url, workers: 0, env: { ...CHAOS_ENV, REINS_ARTIFACT_MAX_BYTES: '4096' } }, async (fleet) => {
      await withHostWorkers(
        fleet,
        async (workers) => {
          const result = await fleet.reins(['submit', file, '--wait', '--json'], { timeoutMs: 120_000 });
          expect(result.exitCode, result.stderr).toBe(1);
          const view = JSON.parse(result.stdout) as { runId: string; members: { name: string; status: string; workspace: string; error?: string }[] };
          const member = (name: string) => view.members.find((m) => m.name === name)!;
          expect(member('french').status, member('french').error).toBe('succeeded');
          const [h1, h2] = workers.map((w) => w.host);
          // The dependant ran on host 2, in its own data dir, and read what host 1's member made.
          expect(member('french').workspace.startsWith(h2!.dataDir)).toBe(true);
          expect(readFileSync(path.join(member('french').workspace, 'seen.txt'), 'utf8')).toBe(`hello\n${h1!.hostName}\n`);
          expect(member('big')).toMatchObject({ status: 'failed' });
          expect(member('big').error).toContain('over the cap of');
          expect(member('big').error).toContain('REINS_ARTIFACT_MAX_BYTES');
          expect(member('big').error).toContain('repo:');
        },
        (host) => ({ REINS_WORKER_LABELS: `h${host.index}` }),
      );
    });
  });
});

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
