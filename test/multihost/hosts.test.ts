import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBareRepository, gitEnv, probeGitDaemon, startGitDaemonOn, type BareRepository, type GitDaemon } from '../helpers/git-remote.js';
import { createTestNetwork, probeNetns, runOn, type TestHost, type TestNetwork } from '../helpers/netns.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';

/**
 * The test hosts as machines that share nothing but Redis and a git remote (helpers/netns.ts,
 * helpers/git-remote.ts): each hides the submitter's folder and the other hosts' data dirs, for every
 * process on it, and reaches the remote's repositories only over git://.
 */
const netns = probeNetns();
const support = netns.ok ? probeGitDaemon() : netns;
const title = support.ok ? 'test hosts (mount namespaces, git remote)' : `test hosts (mount namespaces, git remote): skipped, ${support.reason}`;
if (!support.ok) console.warn(`test/multihost: cannot build test hosts, so the hosts test is skipped: ${support.reason}`);

const HARNESS = 'name: submitted-here\n';

describe.skipIf(!support.ok)(title, () => {
  let network: TestNetwork | undefined;
  let daemon: GitDaemon | undefined;
  let repository: BareRepository;
  let submitter: string;
  let harnessFile: string;

  beforeAll(async () => {
    // The submitter's folder: a harness file there, as `reins submit` would read it on the machine's side.
    submitter = tempDir('submitter');
    harnessFile = path.join(submitter, 'harness.yaml');
    await writeFile(harnessFile, HARNESS);
    const remoteRoot = tempDir('remote');
    repository = await createBareRepository(remoteRoot, 'app', { files: { 'README.md': '# app\n' } });
    network = await createTestNetwork(2, { hide: [submitter, remoteRoot] });
    daemon = await startGitDaemonOn(network.serviceAddress, remoteRoot);
  });

  afterAll(async () => {
    try {
      await daemon?.stop();
    } finally {
      await network?.destroy();
    }
  });

  /** An environment for a process on `host`, with a HOME in its own data dir. */
  const envOn = async (host: TestHost, label: string) => {
    const home = path.join(host.dataDir, `home-${label}`);
    await mkdir(home, { recursive: true });
    return scratchEnv(home);
  };

  it("hides the submitter's folder on a host, from a process running there and from one started after it was killed; the machine sees it", async () => {
    const host = network!.hosts[0]!;
    const env = await envOn(host, 'hide');
    expect(readFileSync(harnessFile, 'utf8')).toBe(HARNESS);

    // The controls: a process on the host runs as that host and reads the shared filesystem, so a read that
    // fails below fails for the hiding.
    const own = path.join(host.dataDir, 'own.txt');
    await writeFile(own, 'host 1');
    expect(await runOn(host, ['hostname'], { env })).toMatchObject({ exitCode: 0, stdout: host.hostName });
    expect(await runOn(host, ['cat', own], { env })).toMatchObject({ exitCode: 0, stdout: 'host 1' });
    const harnessOnHost = await runOn(host, ['cat', harnessFile], { env });
    expect(harnessOnHost.exitCode, `the harness read on ${host.hostName}: ${harnessOnHost.stdout}`).not.toBe(0);
    expect(harnessOnHost.stderr).toMatch(/No such file/);
    // The folder is there, empty: the tmpfs over it.
    expect(await runOn(host, ['ls', '-A', submitter], { env })).toMatchObject({ exitCode: 0, stdout: '' });

    // A long-lived process on the host (a worker, say). Its view is read from the machine's side through
    // /proc/<pid>/root, once it is past nsenter (it says so).
    const { file, args } = host.command(['sh', '-c', 'echo started; exec sleep 600']);
    const longLived = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise<void>((resolve) => longLived.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        longLived.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('started') && resolve());
        longLived.once('exit', (code) => reject(new Error(`the process on ${host.hostName} exited (${code}) before it started`)));
      });
      const viewOf = (file: string) => path.join(`/proc/${longLived.pid}/root`, file);
      const mountNamespace = readlinkSync(`/proc/${longLived.pid}/ns/mnt`);
      expect(mountNamespace, 'a mount namespace of its own, not the machine’s').not.toBe(readlinkSync('/proc/self/ns/mnt'));
      expect(existsSync(viewOf(own)), 'it sees its own data dir').toBe(true);
      expect(existsSync(viewOf(harnessFile)), 'it does not see the harness').toBe(false);

      // What the machine writes into the folder while the process runs stays out of its view.
      const late = path.join(submitter, 'late.txt');
      await writeFile(late, 'written after the process started');
      expect(existsSync(late)).toBe(true);
      expect(existsSync(viewOf(late)), 'a file the machine wrote there later').toBe(false);

      // A folder hidden while the process runs is hidden from it at once: it is in the host's namespace, not a copy.
      const later = tempDir('hidden-later');
      await writeFile(path.join(later, 'file'), '');
      expect(existsSync(viewOf(path.join(later, 'file'))), 'before hide()').toBe(true);
      await host.hide([later]);
      expect(existsSync(viewOf(path.join(later, 'file'))), 'after hide()').toBe(false);
      expect(existsSync(path.join(later, 'file')), 'on the machine, after hide()').toBe(true);
      expect(host.hidden).toContain(later);

      // The process dies as in a crash; the next one started on the host sees the same view, in the same namespace.
      longLived.kill('SIGKILL');
      await exited;
      const next = await runOn(host, ['sh', '-c', 'readlink /proc/self/ns/mnt; hostname; ls -A "$1"; ls -A "$2"', 'sh', submitter, later], { env });
      expect(next.exitCode, next.stderr).toBe(0);
      expect(next.stdout.split('\n')).toEqual([mountNamespace, host.hostName]);
      expect((await runOn(host, ['cat', harnessFile], { env })).exitCode, 'the harness read by the next process').not.toBe(0);
    } finally {
      if (longLived.exitCode === null && longLived.signalCode === null) {
        longLived.kill('SIGKILL');
        await exited;
      }
    }
  });

  it("keeps each host's data dir from the other host", async () => {
    const [host1, host2] = network!.hosts as [TestHost, TestHost];
    const env1 = await envOn(host1, 'data');
    const env2 = await envOn(host2, 'data');
    const written = path.join(host1.dataDir, 'written-on-h1.txt');
    expect(await runOn(host1, ['sh', '-c', 'echo from h1 > "$1"', 'sh', written], { env: env1 })).toMatchObject({ exitCode: 0 });
    expect(readFileSync(written, 'utf8')).toBe('from h1\n');
    // The control: host 2 reads a file the machine wrote in its own data dir.
    const own = path.join(host2.dataDir, 'own.txt');
    await writeFile(own, 'host 2');
    expect(await runOn(host2, ['cat', own], { env: env2 })).toMatchObject({ exitCode: 0, stdout: 'host 2' });
    const read = await runOn(host2, ['cat', written], { env: env2 });
    expect(read.exitCode, `host 1's file read on ${host2.hostName}: ${read.stdout}`).not.toBe(0);
    expect(read.stderr).toMatch(/No such file/);
  });

  it('lets both hosts clone the remote over git:// and push to it, and only over the network; the machine sees the pushes', async () => {
    const [host1, host2] = network!.hosts as [TestHost, TestHost];
    const url = daemon!.url(repository.name);
    const gitOn = async (host: TestHost) => {
      const home = path.join(host.dataDir, 'home-git');
      await mkdir(home, { recursive: true });
      const env = gitEnv(home);
      return (args: readonly string[]) => runOn(host, ['git', ...args], { env });
    };
    const git1 = await gitOn(host1);
    const git2 = await gitOn(host2);

    // The machine reads the bare repository by its path; a host cannot: whatever it gets, it gets over git://.
    const byPath = await git1(['ls-remote', repository.gitDir]);
    expect(byPath.exitCode, `the bare repository read by its path on ${host1.hostName}: ${byPath.stdout}`).not.toBe(0);

    const pushFrom = async (git: typeof git1, host: TestHost, branch: string) => {
      const clone = path.join(host.dataDir, 'app');
      expect(await git(['clone', '--quiet', url, clone])).toMatchObject({ exitCode: 0 });
      expect((await git(['-C', clone, 'rev-parse', 'HEAD'])).stdout).toBe(repository.commit);
      expect(await git(['-C', clone, 'commit', '--quiet', '--allow-empty', '-m', `work on ${host.hostName}`])).toMatchObject({ exitCode: 0 });
      const pushed = await git(['-C', clone, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
      expect(pushed.exitCode, pushed.stderr).toBe(0);
      return (await git(['-C', clone, 'rev-parse', 'HEAD'])).stdout;
    };
    const commit1 = await pushFrom(git1, host1, 'h1-work');
    // Host 2 sees host 1's push through the remote.
    expect((await git2(['ls-remote', url, 'refs/heads/h1-work'])).stdout).toBe(`${commit1}\trefs/heads/h1-work`);
    const commit2 = await pushFrom(git2, host2, 'h2-work');
    expect(commit2).not.toBe(commit1);

    const machine = (await execa('git', ['ls-remote', url], { env: gitEnv(), extendEnv: false, stdin: 'ignore' })).stdout.trim();
    expect(machine.split('\n').sort()).toEqual([`${repository.commit}\tHEAD`, `${repository.commit}\trefs/heads/main`, `${commit1}\trefs/heads/h1-work`, `${commit2}\trefs/heads/h2-work`].sort());

    // And the remote is reached through the link: cut, host 1 cannot reach it; restored, it can.
    await host1.cut();
    try {
      const cutOff = await git1(['ls-remote', url]);
      expect(cutOff.exitCode, `the remote read with the link cut: ${cutOff.stdout}`).not.toBe(0);
    } finally {
      await host1.restore();
    }
    expect((await git1(['ls-remote', url, 'refs/heads/h2-work'])).stdout).toBe(`${commit2}\trefs/heads/h2-work`);
  });
});
