import { constants, existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ConfigError } from '@reins/shared';

/**
 * Who a worker's agents run as. An agent runs with permissions bypassed on content that may try to steer
 * it: as the worker's own user it could read the worker's environment (/proc/<pid>/environ), its data dir
 * and its accounts. A worker started as root therefore starts each agent as an unprivileged user of its
 * own (REINS_AGENT_USER, `reins-agent` by default), who owns only the agent's workspace and home.
 *
 * undefined means "the worker's own user": a worker that is not root cannot switch users, and
 * REINS_AGENT_USER=root on a root worker asks for it on purpose.
 */
export interface AgentUser {
  name: string;
  uid: number;
  gid: number;
  /** util-linux's setpriv, which the launcher puts before the agent's argv. */
  setpriv: string;
}

export const DEFAULT_AGENT_USER = 'reins-agent';
/** What an agent of its own user creates is its own: no other local user reads its work. */
export const AGENT_UMASK = '077';
const CREATE_HINT = `useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${DEFAULT_AGENT_USER}`;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

/** The fields of a passwd or group entry (through NSS, so LDAP users count), or undefined. */
async function getent(database: 'passwd' | 'group', name: string): Promise<string[] | undefined> {
  const found = await execa('getent', [database, name], { reject: false, stdin: 'ignore' });
  const fields = String(found.stdout).split('\n')[0]?.split(':') ?? [];
  return found.exitCode === 0 && fields.length >= 4 ? fields : undefined;
}

async function lookUpUser(name: string): Promise<PasswdEntry | undefined> {
  const fields = await getent('passwd', name);
  return fields && { name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]) };
}

const refuse = (message: string, path = 'REINS_AGENT_USER'): never => {
  throw new ConfigError([{ path, message }]);
};

/** util-linux's setpriv, where the host has it. */
export const setprivPath = (): string | undefined => ['/usr/bin/setpriv', '/bin/setpriv'].find((candidate) => existsSync(candidate));

const findSetpriv = (): string => setprivPath() ?? refuse('starting agents as another user needs setpriv (util-linux), which this host lacks');

/**
 * Resolves REINS_AGENT_GROUP at the worker's start: each of its members serves one running agent at a time
 * (agent-users.ts). Refused (exit 2): a worker that is not root, both variables set, an unknown or empty
 * group, a member that is root or the worker itself, or fewer members than the worker's concurrency.
 */
export async function resolveAgentGroup(group: string, options: { agentUser: string | undefined; concurrency: number; uid?: number }): Promise<AgentUser[]> {
  const where = 'REINS_AGENT_GROUP';
  const uid = options.uid ?? process.getuid?.() ?? 0;
  if (options.agentUser !== undefined) refuse(`"${group}": set REINS_AGENT_USER (one user for every agent) or REINS_AGENT_GROUP (a user of the group for each agent), not both`, where);
  if (uid !== 0) refuse(`"${group}": a worker running as uid ${uid} cannot start agents as other users; run the worker as root`, where);
  const entry = await getent('group', group);
  if (entry === undefined) refuse(`"${group}": no such group on this host`, where);
  const names = (entry![3] ?? '').split(',').filter(Boolean);
  if (names.length < options.concurrency) {
    refuse(
      `"${group}" has ${names.length} members (${names.join(', ') || 'none'}), fewer than the ${options.concurrency} agents this worker runs at once (REINS_WORKER_CONCURRENCY); add users to it (useradd --system -G ${group} …)`,
      where,
    );
  }
  const setpriv = findSetpriv();
  const users: AgentUser[] = [];
  for (const name of names) {
    const entry = await lookUpUser(name);
    if (entry === undefined) refuse(`"${group}": its member ${name} is not a user on this host`, where);
    if (entry!.uid === 0 || entry!.uid === uid) refuse(`"${group}": its member ${name} is uid ${entry!.uid}, which agents must never run as`, where);
    users.push({ ...entry!, setpriv });
  }
  return users;
}

/** Resolves REINS_AGENT_USER at the worker's start; a user that cannot be used is a ConfigError (exit 2). */
export async function resolveAgentUser(requested: string | undefined, self = { uid: process.getuid?.() ?? 0 }): Promise<AgentUser | undefined> {
  const root = self.uid === 0;
  if (requested === undefined && !root) return undefined;
  const name = requested ?? DEFAULT_AGENT_USER;
  const entry = await lookUpUser(name);
  if (entry === undefined) {
    if (requested === undefined) {
      refuse(
        `not set, and this host has no user "${DEFAULT_AGENT_USER}": a worker running as root starts its agents as an unprivileged user. Create it (${CREATE_HINT}), name another user, or set REINS_AGENT_USER=root to run agents as root on purpose`,
      );
    }
    refuse(`"${name}": no such user on this host`);
  }
  const user = entry!;
  if (user.uid === self.uid) return undefined;
  if (!root) refuse(`"${name}" (uid ${user.uid}): a worker running as uid ${self.uid} cannot start agents as another user; run the worker as root, or unset REINS_AGENT_USER to run agents as the worker's own user`);
  return { ...user, setpriv: findSetpriv() };
}

/** Who the worker runs as and who its agents run as, by name, for its registration (`reins doctor` warns when they are the same). */
export function whoRuns(users: { users: readonly AgentUser[]; pooled: boolean }): { user: string; agentUser: string } {
  const own = os.userInfo().username;
  const agents = users.pooled ? `one each of ${users.users.map((u) => u.name).join(', ')}` : (users.users[0]?.name ?? own);
  return { user: own, agentUser: agents };
}

/**
 * The argv prefix that starts a program as the agent user: real and effective ids both, no supplementary
 * groups, and no way back up (no_new_privs: a setuid binary in the workspace gains nothing).
 */
export const asAgentArgv = (user: AgentUser): string[] => [user.setpriv, '--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', '--no-new-privs', '--'];

/**
 * Gives `target` (and everything below it) to the agent user, and lets the agent reach it: each folder
 * from `dataDir` down to target's parent gets o+x (0711: passable, not listable). Links are changed
 * themselves, never followed (lchown), so nothing an agent links to is given away.
 */
export async function handOver(user: AgentUser | undefined, dataDir: string, target: string): Promise<void> {
  if (user === undefined) return;
  await passable(dataDir, target);
  const info = await lstat(target);
  if (info.isDirectory()) {
    await execa('chown', ['-R', '--no-dereference', `${user.uid}:${user.gid}`, '--', target], { stdin: 'ignore' });
    // Its own: another agent user of the host (REINS_AGENT_GROUP) can neither list nor enter it.
    await chmod(target, 0o700);
  } else if (!info.isSymbolicLink()) {
    await chown(target, user.uid, user.gid);
  }
}

/**
 * handOver for a folder an earlier attempt handed over already (a clone, a scratch workspace): everything
 * in it is its user's, so the whole tree is walked only when this attempt's user is another one
 * (REINS_AGENT_GROUP). What the worker wrote into it since goes over with handOverOwnPaths (prepare.ts).
 */
export async function handOverAgain(user: AgentUser | undefined, dataDir: string, target: string): Promise<void> {
  if (user !== undefined && (await lstat(target)).uid !== user.uid) await handOver(user, dataDir, target);
}

/** Each folder from `dataDir` down to target's parent gets 0711: an agent passes through, never lists. */
export async function passable(dataDir: string, target: string): Promise<void> {
  for (let dir = path.dirname(target); dir.startsWith(dataDir); dir = path.dirname(dir)) {
    await chmod(dir, 0o711);
    if (dir === dataDir) break;
  }
}

/** Folders of the data dir an agent may pass through to what is handed over to it (0711), and the worker's own (0700). */
const PASSABLE = ['homes', 'worktrees', 'workspaces', 'sockets', 'mirrors'];
const PRIVATE = ['runs', 'tmux'];

/**
 * Agents of a user of their own pass through the data dir to their workspace, home and socket, and never
 * list it; the worker's own folders (attempts with their env files and tokens, tmux sockets) are closed.
 */
export async function closeDataDir(dataDir: string): Promise<void> {
  await chmod(dataDir, 0o711);
  for (const [names, mode] of [
    [PASSABLE, 0o711],
    [PRIVATE, 0o700],
  ] as const) {
    for (const name of names) {
      await mkdir(path.join(dataDir, name), { recursive: true });
      await chmod(path.join(dataDir, name), mode);
    }
  }
}

/**
 * An agent user must be able to pass through every folder above the data dir to reach its workspace, and
 * to run the programs reins gives it (node, the in-agent `reins`, the tool hook). A data dir or a checkout
 * under a 0700 home is refused at the start, naming the folder.
 */
export async function assertReachable(user: AgentUser | undefined, dataDir: string, programs: readonly { file: string; need: 'read' | 'run' }[]): Promise<void> {
  if (user === undefined) return;
  const blocked = async (dir: string): Promise<string | undefined> => {
    for (let at = dir; ; at = path.dirname(at)) {
      const info = await stat(at);
      if ((info.mode & 0o001) === 0) return `${at} (mode ${(info.mode & 0o777).toString(8)}) is not passable by other users; chmod o+x ${at}`;
      if (at === path.dirname(at)) return undefined;
    }
  };
  const above = await blocked(path.dirname(dataDir));
  if (above) refuse(`"${user.name}": agents cannot reach the data dir ${dataDir}: ${above}, or choose a data dir elsewhere (REINS_DATA_DIR)`);
  for (const { file, need } of programs) {
    const mode = (await stat(file)).mode;
    const denied = (mode & (need === 'run' ? 0o005 : 0o004)) === 0 ? `it is not ${need === 'run' ? 'runnable' : 'readable'} by other users (mode ${(mode & 0o777).toString(8)})` : undefined;
    const why = (await blocked(path.dirname(file))) ?? denied;
    if (why) refuse(`"${user.name}": agents cannot use ${file}, which reins runs for them: ${why}`);
  }
}

/**
 * `<workspace>/<parts…>`, with every folder on the way a real folder: a link or file an agent left where
 * reins unpacks (an `inputs` link to elsewhere, say) is removed, so nothing is written through it.
 */
export async function placeIn(workspace: string, parts: readonly string[]): Promise<string> {
  await mkdir(workspace, { recursive: true });
  let dir = workspace;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    const info = await lstat(dir).catch(() => undefined);
    if (info && !info.isDirectory()) await rm(dir, { force: true });
    if (!info?.isDirectory()) await mkdir(dir);
  }
  return path.join(dir, parts.at(-1)!);
}

/**
 * Reads a file of an agent's tree without following a link at its end: a transcript an agent replaced
 * with a link to a file of the worker's is not read.
 */
export async function readNoFollow(file: string): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${file} is not a regular file`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Writes a file into an agent's tree without following a link at its end (placeIn makes the folders on the way real). */
export async function writeNoFollow(file: string, data: Uint8Array): Promise<void> {
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}
