import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskList, createKeys } from '@reins/shared';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { storeOf, waitForRunEnd } from '../helpers/chaos.js';

const PASSWORD = 'fleet-secret-pw';
const redis = useRedis({ password: PASSWORD });

describe("an agent's environment", () => {
  it('holds no Redis URL, password or prefix (nor does its launcher), and reins task and checkpoint still work through its worker', async () => {
    const dir = tempDir('agent-env');
    const out = path.join(dir, 'seen.json');
    // A hostile agent: dumps its environment and its parent's (the launcher), then uses reins as an agent may.
    const script = `
      const { execFileSync } = require('child_process');
      const fs = require('fs');
      let parent;
      try { parent = fs.readFileSync('/proc/' + process.ppid + '/environ', 'utf8'); } catch (e) { parent = 'unreadable: ' + e.code; }
      execFileSync('reins', ['task', 'add', 'added from inside']);
      execFileSync('reins', ['checkpoint', '--data', '{"step":1}']);
      fs.writeFileSync(process.argv[1], JSON.stringify({ env: process.env, parent }));`;
    const file = await writeHarness(dir, { name: 'nosy', agent: { kind: 'command', argv: [process.execPath, '-e', script, out] }, team: [{ name: 'nosy', prompt: 'look around' }] });
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const store = storeOf(redis.client, fleet);
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
      const seen = JSON.parse(readFileSync(out, 'utf8')) as { env: Record<string, string>; parent: string };
      const everything = `${JSON.stringify(seen.env)}\n${seen.parent}`;
      for (const secret of [PASSWORD, redis.url, `${fleet.prefix}:`]) expect(everything, secret).not.toContain(secret);
      expect(Object.keys(seen.env).filter((name) => /REDIS|PREFIX|DATA_DIR/.test(name))).toEqual([]);
      expect(seen.env.REINS_SOCKET).toMatch(/\.sock$/);
      // The worker did what the agent asked, as its member, in its run.
      expect((await new TaskList(redis.client, createKeys(fleet.prefix), runId).list()).map((t) => [t.title, t.createdBy])).toEqual([['added from inside', 'nosy']]);
      expect((await store.readCursor(runId, 'nosy'))?.data).toEqual({ step: 1 });
    });
  });
});
