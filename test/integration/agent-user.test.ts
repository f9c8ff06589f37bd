import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { TaskList, createKeys } from '@reins/shared';
import { storeOf, waitForRunEnd } from '../helpers/chaos.js';
import { repoRoot, withFleet, writeHarness } from '../helpers/fleet.js';
import { createBareRepository, gitEnv } from '../helpers/git-remote.js';
import { useRedis } from '../helpers/redis.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';
import { AGENT_GROUP, AGENT_USER, agentGroupMembers, agentUserIds, passableDir } from '../helpers/agent-user.js';

const PASSWORD = 'fleet-secret-pw';
const WORKER_SECRET = 'sk-worker-secret-of-the-host';

const ids = agentUserIds();
if (typeof ids === 'string') console.warn(`agent-user stories skipped: ${ids}`);
const story = typeof ids === 'string' ? it.skip : it;
const members = agentGroupMembers();
if (typeof members === 'string') console.warn(`agent-group story skipped: ${members}`);
const groupStory = typeof members === 'string' ? it.skip : it;

const redis = useRedis({ password: PASSWORD });

const agentFleet = <T>(run: (fleet: Parameters<Parameters<typeof withFleet>[1]>[0]) => Promise<T>, env: Record<string, string> = {}) =>
  withFleet({ redisUrl: redis.url, env: { REINS_AGENT_USER: AGENT_USER, ANTHROPIC_API_KEY: WORKER_SECRET, ...env } }, run);

describe('agents run as a user of their own (REINS_AGENT_USER)', () => {
  story("a hostile command agent finds no Redis URL or secret: the worker's environment, its launcher's and the data dir are closed to it; reins task and checkpoint still work", async () => {
    const script = `
      const { execFileSync } = require('child_process');
      const fs = require('fs');
      const [dataDir] = process.argv.slice(1);
      const read = (file) => { try { return 'read: ' + fs.readFileSync(file, 'latin1'); } catch (e) { return 'denied: ' + e.code; } };
      const list = (dir) => { try { return 'listed: ' + fs.readdirSync(dir).join(','); } catch (e) { return 'denied: ' + e.code; } };
      const cmdline = (p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'latin1').split('\\0'); } catch { return []; } };
      const workers = fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p) && (cmdline(p)[1] ?? '').endsWith('worker/dist/main.js'));
      const seen = {
        uid: process.getuid(),
        env: process.env,
        launcher: read('/proc/' + process.ppid + '/environ'),
        workers: workers.map((p) => read('/proc/' + p + '/environ')),
        dataDir: list(dataDir),
        runs: list(dataDir + '/runs'),
        sockets: list(dataDir + '/sockets'),
      };
      execFileSync('reins', ['task', 'add', 'added from inside']);
      execFileSync('reins', ['checkpoint', '--data', '{"step":1}']);
      fs.writeFileSync('seen.json', JSON.stringify(seen));`;
    await agentFleet(async (fleet) => {
      const file = await writeHarness(tempDir('agent-user'), { name: 'nosy', agent: { kind: 'command', argv: [process.execPath, '-e', script, fleet.dataDir] }, team: [{ name: 'nosy', prompt: 'look around' }] });
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const store = storeOf(redis.client, fleet);
      const view = await waitForRunEnd(store, runId);
      expect(view.status, JSON.stringify(view)).toBe('succeeded');
      const workspace = path.join(fleet.dataDir, 'workspaces', runId, 'nosy');
      const seen = JSON.parse(readFileSync(path.join(workspace, 'seen.json'), 'utf8')) as { uid: number; env: Record<string, string>; launcher: string; workers: string[]; dataDir: string; runs: string; sockets: string };
      const ours = ids as { uid: number; gid: number };
      expect(seen.uid).toBe(ours.uid);
      expect(statSync(workspace).uid).toBe(ours.uid);
      // It found its worker, and could read none of it.
      expect(seen.workers.length).toBeGreaterThan(0);
      expect(seen.workers.every((w) => w.startsWith('denied'))).toBe(true);
      expect(seen.launcher).toMatch(/^denied/);
      for (const listing of [seen.dataDir, seen.runs, seen.sockets]) expect(listing).toMatch(/^denied: EACCES/);
      const everything = JSON.stringify(seen);
      for (const secret of [PASSWORD, redis.url, WORKER_SECRET, `${fleet.prefix}:`]) expect(everything, secret).not.toContain(secret);
      // What it asked of its worker, the worker did: as its member, in its run.
      expect((await new TaskList(redis.client, createKeys(fleet.prefix), runId).list()).map((t) => [t.title, t.createdBy])).toEqual([['added from inside', 'nosy']]);
      expect((await store.readCursor(runId, 'nosy'))?.data).toEqual({ step: 1 });

      // reins doctor says who the worker's agents run as; a second worker running them as itself is a warning.
      await fleet.startWorker('w-self', { REINS_AGENT_USER: 'root' });
      const doctor = await fleet.reins(['doctor']);
      expect(doctor.stdout).toMatch(new RegExp(`^ok\\s+agent user\\s+worker w1 runs as root, its agents as ${AGENT_USER}$`, 'm'));
      expect(doctor.stdout).toMatch(/^WARN\s+agent user\s+worker w-self runs its agents as its own user \(root\): an agent can read the worker's environment/m);
      expect(doctor.stdout).toMatch(new RegExp(`^ok\\s+agent user\\s+a worker started here as root runs its agents as ${AGENT_USER}$`, 'm'));
    });
  });

  story('on a harness repo, its clone is its own and the mirror is not: its work is pushed, with its checkpoint, and a dependant starts from it', async () => {
    const remote = await createBareRepository(tempDir('agent-user-remote'), 'origin', { files: { 'README.md': 'base\n' } });
    const git = (...args: string[]) => execFileSync('git', ['-C', remote.gitDir, ...args], { encoding: 'utf8', env: gitEnv() }).trim();
    // The mirror is named in the clone's alternates: the agent tries to write into it.
    const tamper = 'alt=$(cat .git/objects/info/alternates); if touch "$alt/planted" 2>/dev/null; then echo planted > tamper.txt; else echo refused > tamper.txt; fi; printf "from a\\n" > a.txt; id -u > uid.txt';
    const file = await writeHarness(tempDir('agent-user-repo'), {
      name: 'own-clone',
      repo: { url: `file://${remote.gitDir}` },
      team: [
        { name: 'a', prompt: 'a', agent: { kind: 'command', argv: ['sh', '-c', tamper] } },
        { name: 'b', prompt: 'b', depends_on: ['a'], agent: { kind: 'command', argv: ['sh', '-c', 'cat a.txt > b-saw.txt'] } },
      ],
    });
    await agentFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const { runId } = JSON.parse(result.stdout) as { runId: string };
      expect(git('show', `reins/${runId}/a:tamper.txt`)).toBe('refused');
      expect(git('show', `reins/${runId}/a:uid.txt`)).toBe(String((ids as { uid: number }).uid));
      expect(git('show', `reins/${runId}/b:b-saw.txt`)).toBe('from a');
      // The final checkpoint went from the agent's clone through the mirror to the remote.
      expect(git('show', `refs/reins/checkpoints/${runId}/a:a.txt`)).toBe('from a');
      expect(git('show', `reins/${runId}/result:b-saw.txt`)).toBe('from a');
    });
  });

  groupStory('with REINS_AGENT_GROUP, two agents running at once get a user each, and neither can read the other', async () => {
    // A meeting point both agents' users can write: each leaves its pid, looks at the other, and waits until both have looked.
    const shared = passableDir('agent-group');
    chmodSync(shared, 0o777);
    const script = `
      const fs = require('fs');
      const [shared, me, other] = process.argv.slice(1);
      const at = (name) => shared + '/' + name;
      const until = (file) => new Promise((done) => { const t = setInterval(() => { if (fs.existsSync(file)) { clearInterval(t); done(); } }, 25); });
      const tryRead = (file) => { try { return 'read: ' + fs.readFileSync(file, 'latin1'); } catch (e) { return 'denied: ' + e.code; } };
      const tryList = (dir) => { try { return 'listed: ' + fs.readdirSync(dir).join(','); } catch (e) { return 'denied: ' + e.code; } };
      (async () => {
        // Agents create their files 0600 (umask 077): this one is left readable on purpose.
        fs.writeFileSync(at(me + '.pid'), String(process.pid) + ' ' + process.cwd());
        fs.chmodSync(at(me + '.pid'), 0o644);
        await until(at(other + '.pid'));
        const [pid, cwd] = fs.readFileSync(at(other + '.pid'), 'utf8').split(' ');
        fs.writeFileSync('seen.json', JSON.stringify({ uid: process.getuid(), environ: tryRead('/proc/' + pid + '/environ'), workspace: tryList(cwd) }));
        fs.writeFileSync(at(me + '.done'), '');
        await until(at(other + '.done'));
      })();`;
    const agent = (me: string, other: string) => ({ kind: 'command', argv: [process.execPath, '-e', script, shared, me, other] });
    const file = await writeHarness(tempDir('agent-group-harness'), {
      name: 'neighbours',
      team: [
        { name: 'left', prompt: 'l', agent: agent('left', 'right') },
        { name: 'right', prompt: 'r', agent: agent('right', 'left') },
      ],
    });
    await withFleet({ redisUrl: redis.url, concurrency: 2, env: { REINS_AGENT_USER: '', REINS_AGENT_GROUP: AGENT_GROUP } }, async (fleet) => {
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(storeOf(redis.client, fleet), runId);
      expect(view.status, JSON.stringify(view)).toBe('succeeded');
      const seen = ['left', 'right'].map((m) => JSON.parse(readFileSync(path.join(fleet.dataDir, 'workspaces', runId, m, 'seen.json'), 'utf8')) as { uid: number; environ: string; workspace: string });
      const uids = seen.map((s) => s.uid);
      expect(new Set(uids).size, 'one user each').toBe(2);
      for (const uid of uids) expect([...(members as Map<string, number>).values()]).toContain(uid);
      for (const s of seen) {
        expect(s.environ).toBe('denied: EACCES');
        expect(s.workspace).toBe('denied: EACCES');
      }
      // Both users are free again once their agents ended.
      expect(readdirSync(path.join(fleet.dataDir, 'agent-users')).filter((f) => f.endsWith('.claim'))).toEqual([]);
    });
  });

  story("a harness workdir (another user's folder) is refused for agents of their own user, saying what to do", async () => {
    const workdir = tempDir('agent-user-workdir');
    const file = await writeHarness(tempDir('agent-user-wd'), { name: 'wd', workdir, agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'm', prompt: 'm' }] });
    await agentFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      const view = JSON.parse(result.stdout) as { status: string; members: { status: string; attempts: number; error?: string }[] };
      expect(view.status).toBe('failed');
      expect(view.members[0]!.attempts).toBe(1);
      expect(view.members[0]!.error).toContain(`the harness names a workdir (${workdir})`);
      expect(view.members[0]!.error).toContain('REINS_AGENT_USER');
    });
  });

  story('a worker that cannot use its agent user refuses to start (exit 2), naming REINS_AGENT_USER and why', async () => {
    const start = (env: Record<string, string>, asUser?: string) =>
      execa(
        ...((asUser
          ? ['setpriv', ['--reuid', asUser, '--regid', asUser, '--clear-groups', '--', process.execPath, path.join(repoRoot, 'apps/worker/dist/main.js')]]
          : [process.execPath, [path.join(repoRoot, 'apps/worker/dist/main.js')]]) as [string, string[]]),
        {
          env: { ...scratchEnv(), REINS_REDIS_URL: redis.url, ...env },
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
          timeout: 30_000,
        },
      );
    const unknown = await start({ REINS_AGENT_USER: 'no-such-user', REINS_DATA_DIR: passableDir('au-unknown') });
    expect(unknown.exitCode, unknown.stderr).toBe(2);
    expect(unknown.stderr).toContain('REINS_AGENT_USER');
    expect(unknown.stderr).toContain('"no-such-user": no such user on this host');

    // Its data dir is under a folder other users cannot pass.
    const closed = tempDir('au-closed');
    const hidden = await start({ REINS_AGENT_USER: AGENT_USER, REINS_DATA_DIR: path.join(closed, 'data') });
    expect(hidden.exitCode, hidden.stderr).toBe(2);
    expect(hidden.stderr).toContain(`${closed} (mode 700) is not passable by other users`);

    if (typeof members !== 'string') {
      const small = await start({ REINS_AGENT_USER: '', REINS_AGENT_GROUP: AGENT_GROUP, REINS_WORKER_CONCURRENCY: '9', REINS_DATA_DIR: passableDir('au-small') });
      expect(small.exitCode, small.stderr).toBe(2);
      expect(small.stderr).toContain(`REINS_AGENT_GROUP: "${AGENT_GROUP}" has ${members.size} members`);
      expect(small.stderr).toContain('fewer than the 9 agents this worker runs at once');
    }

    // A worker that is not root cannot start agents as anyone else.
    const own = passableDir('au-nonroot');
    const { uid, gid } = ids as { uid: number; gid: number };
    mkdirSync(path.join(own, 'data'));
    chownSync(path.join(own, 'data'), uid, gid);
    const unprivileged = await start({ REINS_AGENT_USER: 'root', REINS_DATA_DIR: path.join(own, 'data') }, AGENT_USER);
    expect(unprivileged.exitCode, unprivileged.stderr).toBe(2);
    expect(unprivileged.stderr).toContain(`"root" (uid 0): a worker running as uid ${uid} cannot start agents as another user`);
  });
});
