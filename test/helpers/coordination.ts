import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TaskList, type Keys, type RedisConnection } from '@reins/shared';

export interface Received {
  inbox: { from: string; text: string }[];
  task: { title: string; claimedBy: string; status: string };
}

/**
 * Two command agents that coordinate through reins only: `talker` adds a task and sends `listener` the
 * message "hello from talker <where>"; `listener` waits for it (20 s at most), claims the task, and writes
 * both to a file in `dir`, which `received()` reads back.
 */
export function messagingTeam(dir: string, where: string): { harness: unknown; received: () => Received } {
  const file = path.join(dir, 'received.json');
  const talker = `
    const { execFileSync } = require('child_process');
    execFileSync('reins', ['task', 'add', 'review the greeting']);
    execFileSync('reins', ['msg', 'send', 'listener', 'hello from ' + process.env.REINS_MEMBER + ' ' + process.argv[1]]);`;
  const listener = `
    const { execFileSync } = require('child_process');
    const fs = require('fs');
    const deadline = Date.now() + 20000;
    (function poll() {
      const inbox = JSON.parse(execFileSync('reins', ['msg', 'inbox', '--json'], { encoding: 'utf8' }));
      if (inbox.length > 0) {
        const task = JSON.parse(execFileSync('reins', ['task', 'claim', '--json'], { encoding: 'utf8' }));
        fs.writeFileSync(process.argv[1], JSON.stringify({ inbox, task }));
        return;
      }
      if (Date.now() > deadline) process.exit(1);
      setTimeout(poll, 100);
    })();`;
  return {
    harness: {
      name: 'chatty',
      team: [
        { name: 'listener', prompt: 'listen', agent: { kind: 'command', argv: [process.execPath, '-e', listener, file] } },
        { name: 'talker', prompt: 'talk', agent: { kind: 'command', argv: [process.execPath, '-e', talker, where] } },
      ],
    },
    received: () => JSON.parse(readFileSync(file, 'utf8')) as Received,
  };
}

/** One member claiming tasks of a run's list as fast as it can until none is open; the ids it got. */
export async function claimUntilEmpty(connection: RedisConnection, keys: Keys, runId: string, member: string): Promise<number[]> {
  const list = new TaskList(connection, keys, runId);
  const mine: number[] = [];
  for (;;) {
    try {
      mine.push((await list.claim(member)).id);
    } catch (error) {
      if ((error as Error).message !== 'no open task') throw error;
      return mine;
    }
  }
}
