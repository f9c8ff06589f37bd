import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentUser } from './agent-user.js';
import { withFileLock } from './git/file-lock.js';

/**
 * The users a worker's agents run as (agent-user.ts). With REINS_AGENT_USER one user serves every agent of
 * the host, so agents there can read one another's environment (their sockets' tokens) and workspaces.
 * With REINS_AGENT_GROUP each running agent gets a member of the group to itself, as Nix's build users do:
 * no two agents on the host share a user, so none can read another's files, environment or token.
 *
 * A member is free when no process runs as it and no live worker process claims it. Claims are files in
 * `<data dir>/agent-users`, taken under a lock, so workers sharing a data dir never hand out one user twice;
 * a crashed worker's claims lapse with its pid, while its agents, still running, keep their users busy.
 */
export class AgentUsers {
  /** The members this process holds, by name. */
  private readonly held = new Set<string>();

  constructor(
    readonly users: readonly AgentUser[],
    /** One user for all agents (false), or one member of a group for each running agent (true). */
    readonly pooled: boolean,
    private readonly dir: string,
  ) {}

  /** Agents run as the worker's own user. */
  static none(): AgentUsers {
    return new AgentUsers([], false, '');
  }

  byName(name: string | undefined): AgentUser | undefined {
    return this.users.find((u) => u.name === name);
  }

  /** The user an attempt's agent runs as: the one user, a free member of the group, or undefined (the worker's own). */
  async take(): Promise<AgentUser | undefined> {
    if (!this.pooled) return this.users[0];
    await mkdir(this.dir, { recursive: true });
    return withFileLock(path.join(this.dir, '.lock'), async () => {
      const busy = await uidsInUse();
      for (const user of this.users) {
        if (this.held.has(user.name) || busy.has(user.uid) || (await this.claimedElsewhere(user))) continue;
        await writeFile(this.claimFile(user), `${process.pid}\n`);
        this.held.add(user.name);
        return user;
      }
      throw new Error(`every member of the agent group (${this.users.map((u) => u.name).join(', ')}) runs an agent already: give the group more users than the agents the workers on this host run at once`);
    });
  }

  /** Marks a user held by an agent this process adopted. */
  adopt(user: AgentUser | undefined): void {
    if (this.pooled && user) this.held.add(user.name);
  }

  /** Gives a member back once its agent has ended. */
  async release(user: AgentUser | undefined): Promise<void> {
    if (!this.pooled || !user || !this.held.delete(user.name)) return;
    await rm(this.claimFile(user), { force: true });
  }

  private claimFile(user: AgentUser): string {
    return path.join(this.dir, `${user.name}.claim`);
  }

  private async claimedElsewhere(user: AgentUser): Promise<boolean> {
    const pid = Number((await readFile(this.claimFile(user), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** The real uids of every live process on the host (zombies too: their user is not free yet). */
async function uidsInUse(): Promise<Set<number>> {
  const uids = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    if (uid !== undefined) uids.add(Number(uid));
  }
  return uids;
}
