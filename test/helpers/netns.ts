import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { CONTROL_SESSION } from '../../apps/worker/src/tmux/control-client.js';
import { repoRoot, spawnRoleProcess, waitForLog, type RoleHandle } from './fleet.js';
import { scratchEnv, tempDir } from './test-root.js';

/**
 * Test hosts made of Linux network namespaces, for multi-host stories on one machine.
 *
 * Address plan, one /24 per test run (10.77.S.0/24, S picked free), cut into /30 links:
 *
 *   link 0   host 10.77.S.1  ── svc namespace 10.77.S.2     the service address: Redis binds to 10.77.S.1
 *   link k   host 10.77.S.4k+1 ── namespace k 10.77.S.4k+2  test host k, routed to 10.77.S.1 only
 *
 * Every process on every host (the machine's own side included) uses the one service address, as a
 * fleet would use one Redis URL. The service link is never cut, so the machine's side (scheduler, CLI,
 * the test's own client) keeps Redis while a test host is partitioned. The namespaces have no default
 * route and the machine does not forward (net.ipv4.ip_forward is left alone), so nothing leaves them
 * but traffic to the service address.
 *
 * A link is cut from the namespace's end: `ip link set <veth> down` inside it. Cutting the machine's end
 * instead would drop the machine's route to 10.77.S.4k and send its replies out of the default route.
 *
 * Each process started on a test host also gets a UTS namespace with the host's own name, so
 * `os.hostname()` differs per host, as it does on real machines: reins compares host names (a worker
 * may kill a previous attempt's session directly only when it is on the same host), and sharing one
 * name would let a test pass through that shortcut instead of through self-fencing.
 *
 * Each test host is also a machine of its own on disk: a persistent mount namespace and a persistent UTS
 * namespace, each bound to a file (`unshare --mount=<file> --uts=<file>`), that every process started on
 * the host enters (`nsenter --net --mount --uts`). In it, a tmpfs mounted over a folder hides that folder
 * (`hide()`): the submitter's folder (harness, skills, its local clone), the git remote's own files, the
 * other hosts' data dirs. Why persistent namespaces rather than `unshare --mount` around each command:
 * every process on the host is in the same namespace, as on a real machine, so a process started later
 * (a second worker after a kill -9, a tmux server the worker starts, a `git` the test runs) sees the same
 * view, and a folder hidden after it started is hidden from it at once. The namespace is created with
 * private propagation, so nothing mounted in it reaches the machine and the reverse. In it, the machine's
 * /run/netns and the hosts' namespace folders are detached (a copied namespace file would keep another
 * run's network namespace alive as long as this host lives; the namespaces are entered through the
 * machine's own files, opened before nsenter switches) and /sys is mounted again from inside the network
 * namespace, as `ip netns exec` does.
 *
 * What a host shares with the machine: every folder it does not hide (the test root in /tmp included, so
 * the machine reads the hosts' logs and tmux sockets as files), the kernel's abstract socket names per
 * network namespace aside. A folder to hide must be a directory that exists; it shows on the host as an
 * empty, writable folder (a real machine would lack it, or have its own), and what the machine writes
 * there later stays invisible to the host.
 *
 * Names carry the test process's pid: namespaces `reins-t<pid>-h<k>` (and `-svc`), veths `rt<pid>h<k>`
 * (machine side) and `rt<pid>h<k>n` (namespace side), within the 15-character interface name limit; the
 * namespace files are `/run/reins-hosts-t<pid>/h<k>.{mnt,uts}`, in a folder that is a private bind mount
 * of itself (the kernel binds a namespace to a file only below a mount that does not propagate).
 */

export interface NetnsSupport {
  ok: boolean;
  /** Why namespaces cannot be used here (empty when ok). */
  reason: string;
}

const namePrefix = `reins-t${process.pid}`;
const vethPrefix = `rt${process.pid}`;
/** Followed by the pid: the folder of a test run's namespace files. */
const nsDirPrefix = '/run/reins-hosts-t';

/** The namespace files of one test host. */
interface HostNamespaceFiles {
  mount: string;
  uts: string;
}

/**
 * nsenter's argv that enters a host: its network namespace (the machine's /run/netns file), its mount and
 * UTS namespaces, then `cwd` as the host sees it (`--wdns`: a folder the host hides is not entered through
 * the machine's view). No fork (-F): the program's pid is the child's, so a kill -9 reaches it.
 */
function enterArgv(netnsFile: string, files: HostNamespaceFiles, cwd: string): string[] {
  return ['nsenter', '-F', `--net=${netnsFile}`, `--mount=${files.mount}`, `--uts=${files.uts}`, `--wdns=${cwd}`, '--'];
}

function run(argv: readonly string[]): { ok: boolean; out: string } {
  const [program, ...args] = argv;
  const r = spawnSync(program!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * Whether this machine can build test hosts: root, iproute2, a namespace with a veth pair in it, and a
 * UTS namespace inside it. Synchronous, so a test file can decide at collection time to skip, and say why.
 */
export function probeNetns(): NetnsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `ip netns needs root, running as uid ${process.getuid?.()}` };
  for (const tool of [
    ['ip', '-V'],
    ['unshare', '--version'],
    ['nsenter', '--version'],
    ['findmnt', '--version'],
  ]) {
    const r = run(tool);
    if (!r.ok) return { ok: false, reason: `\`${tool.join(' ')}\` failed: ${r.out}` };
  }
  const ns = `${namePrefix}-probe`;
  const veth = `${vethPrefix}p`;
  const nsDir = `${nsDirPrefix}${process.pid}-probe`;
  const files = { mount: path.join(nsDir, 'probe.mnt'), uts: path.join(nsDir, 'probe.uts') };
  const steps = [
    ['ip', 'netns', 'add', ns],
    ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}n`, 'netns', ns],
    ['mkdir', '-p', nsDir],
    ['mount', '--bind', nsDir, nsDir],
    ['mount', '--make-private', nsDir],
    ['touch', files.mount, files.uts],
    ['unshare', `--mount=${files.mount}`, `--uts=${files.uts}`, '--propagation', 'private', '--', 'hostname', 'reins-probe'],
    // The same entry and hiding a test host uses: a tmpfs over a folder, inside the host's namespace only.
    [...enterArgv(`/run/netns/${ns}`, files, '/'), 'mount', '-t', 'tmpfs', '-o', 'size=64k', 'reins-hidden', nsDir],
  ];
  let failure: string | undefined;
  for (const step of steps) {
    const r = run(step);
    if (!r.ok) {
      failure = `\`${step.join(' ')}\` failed: ${r.out}`;
      break;
    }
  }
  if (!isMountPoint(nsDir) || run(['umount', '--recursive', nsDir]).ok) removeNamespaceDir(nsDir);
  run(['ip', 'link', 'del', veth]);
  run(['ip', 'netns', 'del', ns]);
  return failure ? { ok: false, reason: failure } : { ok: true, reason: '' };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Namespaces, their files and veths left by test runs that died without cleaning up (SIGKILL, a crashed
 * runner): their pid is gone. They hold addresses in 10.77.0.0/16, so they are removed before a slot is picked.
 * Only names of this helper's exact shape are touched.
 */
async function sweepStale(): Promise<void> {
  for (const name of readdirSync('/run')) {
    const pid = /^reins-hosts-t(\d+)(?:-probe)?$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !isAlive(Number(pid))) {
      const nsDir = `/run/${name}`;
      if (!isMountPoint(nsDir) || (await execa('umount', ['--recursive', nsDir], { reject: false })).exitCode === 0) removeNamespaceDir(nsDir);
    }
  }
  const namespaces = (await execa('ip', ['netns', 'list'], { reject: false })).stdout.split('\n').map((line) => line.split(' ')[0] ?? '');
  for (const ns of namespaces) {
    const pid = /^reins-t(\d+)-(?:h\d+|svc|probe)$/.exec(ns)?.[1];
    if (pid && Number(pid) !== process.pid && !isAlive(Number(pid))) await execa('ip', ['netns', 'del', ns], { reject: false });
  }
  const links = (await execa('ip', ['-o', 'link', 'show'], { reject: false })).stdout.split('\n');
  for (const line of links) {
    const match = /^\d+: (rt(\d+)(?:h\d+|s|p))[@:]/.exec(line);
    if (match && Number(match[2]) !== process.pid && !isAlive(Number(match[2]))) await execa('ip', ['link', 'del', match[1]!], { reject: false });
  }
}

export interface TestHost {
  /** 1, 2, … */
  index: number;
  /** The host's name, as `os.hostname()` reports it to processes started on it. */
  hostName: string;
  netns: string;
  /** Its address, and the machine side's address on its link (its gateway). */
  address: string;
  gatewayAddress: string;
  /** The veth ends: on the machine, and inside the namespace. */
  machineVeth: string;
  netnsVeth: string;
  /** Whether the link is up (false between cut() and restore()). */
  readonly linked: boolean;
  /** Partitions the host: its end of the link goes down, and with it its route to the service address. */
  cut(): Promise<void>;
  /** Brings the link back up and restores the route. Safe to call when the link is up. */
  restore(): Promise<void>;
  /**
   * A folder of this host's own, for its workers' data dirs: created under the test root, visible on the
   * machine and on this host, hidden on every other host of the network.
   */
  dataDir: string;
  /** The folders hidden on this host (real paths), in the order they were hidden. */
  readonly hidden: readonly string[];
  /**
   * Hides folders on this host: a tmpfs over each, in the host's mount namespace. Every process on the
   * host, running or started later, sees the empty tmpfs there; the machine and the other hosts do not.
   * Each must be an existing directory; one already hidden is skipped.
   */
  hide(paths: readonly string[]): Promise<void>;
  /**
   * The program and arguments that run `argv` on this host: in its network, mount and UTS namespaces (its
   * host name, its hidden folders), in `cwd` as the host sees it (default: the test process's cwd). Spawn
   * it with the environment you mean the program to have; its pid is the program's.
   */
  command(argv: readonly string[], options?: { cwd?: string }): { file: string; args: string[] };
}

export interface TestNetworkOptions {
  /** Folders hidden on every host from the start (see TestHost.hide), e.g. the submitter's folder. */
  hide?: readonly string[];
}

export interface TestNetwork {
  /** The address on the machine that every host reaches, and services (Redis) bind to. */
  serviceAddress: string;
  hosts: TestHost[];
  /**
   * Stops whatever still runs in the namespaces (after a grace period for processes that are ending
   * anyway), removes the veths and the namespaces, and throws if processes had to be killed. Safe to
   * call twice; every step runs even when one fails.
   */
  destroy(): Promise<void>;
}

/** The first /24 in 10.77.0.0/16 that no interface on the machine uses, starting from one derived from the pid. */
async function pickSlot(taken: readonly number[]): Promise<number> {
  const used = (await execa('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  for (let i = 0; i < 256; i += 1) {
    const slot = (process.pid + i) % 256;
    if (!taken.includes(slot) && !used.includes(` 10.77.${slot}.`)) return slot;
  }
  throw new Error('no free /24 in 10.77.0.0/16 for the test hosts');
}

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args);
}

async function buildNetwork(hostCount: number, slot: number, options: TestNetworkOptions): Promise<TestNetwork> {
  const net = (last: number) => `10.77.${slot}.${last}`;
  const serviceAddress = net(1);
  const namespaces: string[] = [];
  const machineVeths: string[] = [];
  const nsDir = `${nsDirPrefix}${process.pid}`;
  let destroyed: Promise<void> | undefined;

  const destroy = async () => {
    const leftovers: string[] = [];
    for (const ns of namespaces) {
      const pids = async () => (await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout.split('\n').filter(Boolean).map(Number);
      const deadline = Date.now() + 3_000;
      while ((await pids()).length > 0 && Date.now() < deadline) await sleep(50);
      for (const pid of await pids()) {
        const cmdline = (() => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
          } catch {
            return '?';
          }
        })();
        leftovers.push(`process ${pid} in ${ns}: ${cmdline.slice(0, 160)}`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // it ended meanwhile
        }
      }
    }
    // The hosts' mount and UTS namespaces end with their files' mounts (no process is left in them), and
    // the tmpfs hiding folders with them.
    if (existsSync(nsDir)) {
      const unmounted = isMountPoint(nsDir) ? await execa('umount', ['--recursive', nsDir], { reject: false }) : undefined;
      if (!unmounted || unmounted.exitCode === 0) removeNamespaceDir(nsDir);
      else leftovers.push(`${nsDir} stays mounted: ${unmounted.stderr}`);
    }
    // Deleting one end of a veth deletes both; deleting a namespace's name alone frees its links only
    // once its last process is gone, which is asynchronous.
    for (const veth of machineVeths) await execa('ip', ['link', 'del', veth], { reject: false });
    for (const ns of namespaces) await execa('ip', ['netns', 'del', ns], { reject: false });
    if (leftovers.length > 0) throw new Error(`test hosts still ran processes (killed) or left mounts:\n${leftovers.map((l) => `  - ${l}`).join('\n')}`);
  };

  const link = async (machineVeth: string, netnsVeth: string, ns: string, machineAddress: string, netnsAddress: string) => {
    await ip('netns', 'add', ns);
    namespaces.push(ns);
    await ip('link', 'add', machineVeth, 'type', 'veth', 'peer', 'name', netnsVeth, 'netns', ns);
    machineVeths.push(machineVeth);
    await ip('addr', 'add', `${machineAddress}/30`, 'dev', machineVeth);
    await ip('link', 'set', machineVeth, 'up');
    await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${netnsAddress}/30`, 'dev', netnsVeth);
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', netnsVeth, 'up');
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  };

  try {
    await link(`${vethPrefix}s`, `${vethPrefix}sn`, `${namePrefix}-svc`, serviceAddress, net(2));
    await mkdir(nsDir, { recursive: true });
    if (!isMountPoint(nsDir)) await execa('mount', ['--bind', nsDir, nsDir]);
    await execa('mount', ['--make-private', nsDir]);
    const hosts: TestHost[] = [];
    for (let index = 1; index <= hostCount; index += 1) {
      const ns = `${namePrefix}-h${index}`;
      const machineVeth = `${vethPrefix}h${index}`;
      const netnsVeth = `${machineVeth}n`;
      const gatewayAddress = net(4 * index + 1);
      const address = net(4 * index + 2);
      await link(machineVeth, netnsVeth, ns, gatewayAddress, address);
      const route = ['netns', 'exec', ns, 'ip', 'route', 'replace', `${serviceAddress}/32`, 'via', gatewayAddress, 'dev', netnsVeth];
      await ip(...route);
      const hostName = `h${index}.${namePrefix}`;
      const files = await createHostNamespaces(nsDir, index, hostName, `/run/netns/${ns}`);
      const enter = (cwd: string) => enterArgv(`/run/netns/${ns}`, files, cwd);
      const hidden: string[] = [];
      let linked = true;
      hosts.push({
        index,
        hostName,
        netns: ns,
        address,
        gatewayAddress,
        machineVeth,
        netnsVeth,
        get linked() {
          return linked;
        },
        cut: async () => {
          await ip('netns', 'exec', ns, 'ip', 'link', 'set', netnsVeth, 'down');
          linked = false;
        },
        restore: async () => {
          await ip('netns', 'exec', ns, 'ip', 'link', 'set', netnsVeth, 'up');
          // The route went with the link.
          await ip(...route);
          linked = true;
        },
        dataDir: tempDir(`host-h${index}`),
        hidden,
        hide: async (paths) => {
          for (const wanted of paths) {
            const folder = realpathSync(wanted);
            if (!statSync(folder).isDirectory()) throw new Error(`cannot hide ${wanted} on ${hostName}: not a directory`);
            if (hidden.includes(folder)) continue;
            const [file, ...args] = [...enter('/'), 'mount', '-t', 'tmpfs', '-o', 'size=64m,mode=0755', 'reins-hidden', folder];
            await execa(file!, args);
            hidden.push(folder);
          }
        },
        command: (argv, { cwd = process.cwd() } = {}) => {
          const [file, ...args] = [...enter(cwd), ...argv];
          return { file: file!, args };
        },
      });
    }
    // Each host's data dir is its own: the other hosts do not see it.
    for (const host of hosts) await host.hide([...(options.hide ?? []), ...hosts.filter((other) => other !== host).map((other) => other.dataDir)]);
    // Another run may have taken the same slot between pickSlot and here: then this network is unusable.
    const owners = (await execa('ip', ['-4', '-o', 'addr', 'show', 'to', `10.77.${slot}.0/24`])).stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(/\s+/)[1]!);
    const strangers = owners.filter((dev) => !machineVeths.includes(dev));
    if (strangers.length > 0) throw new SlotTakenError(`10.77.${slot}.0/24 is also on ${strangers.join(', ')}`);
    return {
      serviceAddress,
      hosts,
      destroy: () => (destroyed ??= destroy()),
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/**
 * Removes a namespace folder once unmounted: its files (the mount points the namespaces were bound to),
 * then the folder. Only names of the helper's own shape, never recursively.
 */
function removeNamespaceDir(nsDir: string): void {
  try {
    for (const name of readdirSync(nsDir)) if (/^(?:h\d+|probe)\.(?:mnt|uts)$/.test(name)) unlinkSync(path.join(nsDir, name));
    rmdirSync(nsDir);
  } catch {
    // a stranger's file in it, or it is gone already: left for a look
  }
}

/** Whether a folder is a mount point in the test process's mount namespace. */
function isMountPoint(folder: string): boolean {
  return run(['findmnt', '--noheadings', '--mountpoint', folder]).ok;
}

/**
 * A test host's mount and UTS namespaces, bound to files in `nsDir` (see the file's comment): a copy of
 * the machine's mounts with private propagation, and the host's name. Then, inside, the namespace files
 * copied from the machine are detached and /sys is mounted from the host's network namespace.
 */
async function createHostNamespaces(nsDir: string, index: number, hostName: string, netnsFile: string): Promise<HostNamespaceFiles> {
  const files = { mount: path.join(nsDir, `h${index}.mnt`), uts: path.join(nsDir, `h${index}.uts`) };
  await writeFile(files.mount, '');
  await writeFile(files.uts, '');
  await execa('unshare', [`--mount=${files.mount}`, `--uts=${files.uts}`, '--propagation', 'private', '--', 'hostname', hostName]);
  const inside = (argv: readonly string[]) => execa('nsenter', [...enterArgv(netnsFile, files, '/').slice(1), ...argv]);
  const targets = (await inside(['findmnt', '--raw', '--noheadings', '--output', 'TARGET'])).stdout.split('\n');
  const copied = targets.filter((target) => target === '/run/netns' || /^\/run\/reins-hosts-t\d+(?:-probe)?$/.test(target));
  // Lazily: a detached mount takes the mounts below it along. Each target once, outermost first.
  for (const target of [...new Set(copied)]) await inside(['umount', '--lazy', target]).catch(() => undefined);
  await inside(['umount', '--lazy', '/sys']);
  await inside(['mount', '-t', 'sysfs', 'sysfs', '/sys']);
  return files;
}

class SlotTakenError extends Error {
  override name = 'SlotTakenError';
}

/** Builds `hostCount` test hosts and the service link. Call destroy() in a finally or afterAll. */
export async function createTestNetwork(hostCount: number, options: TestNetworkOptions = {}): Promise<TestNetwork> {
  await sweepStale();
  const tried: number[] = [];
  for (;;) {
    const slot = await pickSlot(tried);
    tried.push(slot);
    try {
      return await buildNetwork(hostCount, slot, options);
    } catch (error) {
      if (!(error instanceof SlotTakenError) || tried.length >= 5) throw error;
    }
  }
}

export interface ServiceRedis {
  url: string;
  /** A client on the machine's side, for assertions; closed by stop(). */
  client: Redis;
  stop(): Promise<void>;
}

/** A free TCP port on `address` (which must be on this machine). */
export async function freePortOn(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, address, () => {
      const bound = server.address();
      server.close(() => (typeof bound === 'object' && bound ? resolve(bound.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A private redis-server bound to the service address only (never 127.0.0.1, never 6379). Protected mode
 * is off because the clients are not on loopback; the address is reachable from the test hosts alone.
 */
export async function startRedisOn(address: string): Promise<ServiceRedis> {
  const dir = tempDir('netns-redis');
  const port = await freePortOn(address);
  const url = `redis://${address}:${port}`;
  const child = spawn('redis-server', ['--port', String(port), '--bind', address, '--protected-mode', 'no', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
    env: scratchEnv(dir),
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  try {
    for (let i = 0; ; i += 1) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${address}:${port} exited with ${child.exitCode}`);
      const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      const pong = await probe
        .connect()
        .then(() => probe.ping())
        .catch(() => undefined);
      probe.disconnect();
      if (pong === 'PONG') break;
      if (i > 200) throw new Error(`redis-server on ${address}:${port} did not answer`);
      await sleep(25);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  return {
    url,
    client,
    stop: async () => {
      client.disconnect();
      await stop();
    },
  };
}

/**
 * Starts a reins worker on a test host: `node apps/worker/dist/main.js` in its namespace, with the
 * environment a fleet gives its workers (`env`, from Fleet.env) plus its own id and data dir, as a
 * separate machine would have (default: the host's own, hidden from the other hosts). Resolves once it
 * logged "worker started". A worker started again on the same host (after a kill -9) sees the same
 * mounts and host name: the host's namespaces outlive its processes.
 */
export async function startWorkerOn(host: TestHost, options: { id: string; dataDir?: string; env: Record<string, string>; logDir: string }): Promise<RoleHandle> {
  await mkdir(options.logDir, { recursive: true });
  const logFile = path.join(options.logDir, `worker-${options.id}.log`);
  const handle = spawnRoleProcess(
    'worker',
    options.id,
    host.command([process.execPath, path.join(repoRoot, 'apps/worker/dist/main.js')]),
    { ...options.env, REINS_WORKER_ID: options.id, REINS_DATA_DIR: options.dataDir ?? host.dataDir },
    logFile,
  );
  try {
    await waitForLog(logFile, 'worker started', 30_000, handle.child, handle.logOffset);
  } catch (error) {
    await handle.kill9();
    throw error;
  }
  return handle;
}

export interface HostProcess {
  pid: number;
  cmdline: string;
  /** NAME=value entries of its environment. */
  environ: string[];
}

/** The processes running on a test host (in its network namespace), read from /proc. */
export async function processesOn(host: TestHost): Promise<HostProcess[]> {
  const pids = (await execa('ip', ['netns', 'pids', host.netns], { reject: false })).stdout.split('\n').filter(Boolean).map(Number);
  return pids.flatMap((pid) => {
    try {
      const read = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'latin1').split('\0').filter(Boolean);
      return [{ pid, cmdline: read('cmdline').join(' '), environ: read('environ') }];
    } catch {
      return []; // it ended while we looked
    }
  });
}

/** The worker's tmux socket on a host's data dir (see the worker: `<data dir>/tmux/<id>.sock`). */
export function tmuxSocketOf(dataDir: string, workerId: string): string {
  return path.join(dataDir, 'tmux', `${workerId}.sock`);
}

/** Live sessions on one tmux socket (a file on the shared filesystem, reachable whatever the network). */
export async function tmuxSessionsOn(socket: string): Promise<string[]> {
  const r = await execa('tmux', ['-S', socket, 'list-sessions', '-F', '#{session_name}'], { reject: false });
  return r.exitCode === 0 ? r.stdout.split('\n').filter((name) => name && name !== CONTROL_SESSION) : [];
}

/** Kills the tmux server on a socket; returns the sessions it still had. */
export async function killTmuxServer(socket: string): Promise<string[]> {
  const left = await tmuxSessionsOn(socket);
  await execa('tmux', ['-S', socket, 'kill-server'], { reject: false });
  return left;
}

export interface HostRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` on a host to its end (see TestHost.command), with exactly `env`; an exit code never throws. */
export async function runOn(host: TestHost, argv: readonly string[], options: { env: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<HostRunResult> {
  const { file, args } = host.command(argv, { cwd: options.cwd });
  const result = await execa(file, args, { env: options.env, extendEnv: false, reject: false, stdin: 'ignore', timeout: options.timeoutMs ?? 30_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout).trim(), stderr: String(result.stderr).trim() };
}
