import { execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './fleet.js';
import { tempDir, testRoot } from './test-root.js';

/** The user root workers start agents as by default; .ci/run creates it. */
export const AGENT_USER = 'reins-agent';

/**
 * The agent user's ids, or why the stories that need it cannot run here: they start workers as root
 * (only root can switch users), on a machine that has the user.
 */
export function agentUserIds(): { uid: number; gid: number } | string {
  if (process.getuid?.() !== 0) return `these stories start workers as root, and the tests run as uid ${process.getuid?.()}`;
  let ids: { uid: number; gid: number };
  try {
    const [uid, gid] = execFileSync('getent', ['passwd', AGENT_USER], { encoding: 'utf8' }).split(':').slice(2, 4).map(Number);
    ids = { uid: uid!, gid: gid! };
  } catch {
    return `this machine has no user ${AGENT_USER} (.ci/run creates it: useradd --system --user-group ${AGENT_USER})`;
  }
  // The worker refuses to start when its agents could not run node or reins (agent-user.ts): say so here instead.
  for (const used of [process.execPath, repoRoot]) {
    for (let at = path.dirname(used); at !== path.dirname(at); at = path.dirname(at)) {
      if ((statSync(at).mode & 0o001) === 0) return `${AGENT_USER} cannot reach ${used}: ${at} is not passable by other users`;
    }
  }
  return ids;
}

/** The group whose members each serve one agent (REINS_AGENT_GROUP); .ci/run creates it with two members. */
export const AGENT_GROUP = 'reins-agents';

/** The members of AGENT_GROUP by name and uid, or why the stories that need them cannot run here. */
export function agentGroupMembers(): Map<string, number> | string {
  const base = agentUserIds();
  if (typeof base === 'string') return base;
  try {
    const names = execFileSync('getent', ['group', AGENT_GROUP], { encoding: 'utf8' }).trim().split(':')[3]!.split(',').filter(Boolean);
    if (names.length < 2) return `the group ${AGENT_GROUP} has fewer than two members`;
    return new Map(names.map((name) => [name, Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim())]));
  } catch {
    return `this machine has no group ${AGENT_GROUP} (.ci/run creates it, with reins-agent-1 and reins-agent-2)`;
  }
}

/** A fresh folder below the test root that another user can pass through (tempDir's are 0700), and so can its parents. */
export function passableDir(label: string): string {
  const dir = tempDir(label);
  for (let at = dir; at.startsWith(testRoot()); at = path.dirname(at)) chmodSync(at, 0o711);
  return dir;
}
