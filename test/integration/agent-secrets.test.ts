import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { RunStore, SECRETS_UNCLAIMED_TTL_MS, createKeys, type RedisConnection } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { blockingAgent } from '../helpers/gate.js';

const redis = useRedis();

/** A command agent that writes one variable of its environment to a file, and prints nothing. */
const writesEnv = (name: string, file: string) => ({
  kind: 'command',
  argv: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(file)}, process.env[${JSON.stringify(name)}] ?? '(unset)')`],
});

/** Every value under the fleet's prefix, whatever its type, as text; gzipped values (skills, transcripts, artifacts) unpacked. */
async function dumpPrefix(client: RedisConnection, fleet: Fleet): Promise<{ keys: string[]; text: string }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `{${fleet.prefix}}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const parts: Buffer[] = [];
  for (const key of keys) {
    const type = await client.type(key);
    // A key that expired between the scan and now (BullMQ's stalled-check lock, say) holds nothing to read.
    if (type === 'none') continue;
    if (type === 'string') parts.push((await client.getBuffer(key)) ?? Buffer.alloc(0));
    else if (type === 'hash') for (const [field, value] of Object.entries(await client.hgetallBuffer(key))) parts.push(Buffer.from(field), value);
    else if (type === 'list') parts.push(...(await client.lrangeBuffer(key, 0, -1)));
    else if (type === 'set') parts.push(...(await client.smembersBuffer(key)));
    else if (type === 'zset') parts.push(...(await client.zrangeBuffer(key, 0, -1, 'WITHSCORES')));
    else if (type === 'stream') for (const [id, fields] of await client.xrange(key, '-', '+')) parts.push(Buffer.from(id), ...fields.map((f) => Buffer.from(f)));
    else throw new Error(`key ${key} has a type this dump does not read: ${type}`);
  }
  const text = parts.map((part) => (part[0] === 0x1f && part[1] === 0x8b ? gunzipSync(part).toString('latin1') : part.toString('latin1'))).join('\n');
  return { keys, text };
}

const logsOf = (fleet: Fleet): string =>
  readdirSync(path.join(fleet.dataDir, 'logs'))
    .map((name) => readFileSync(path.join(fleet.dataDir, 'logs', name), 'utf8'))
    .join('\n');

describe('agent.env secrets', () => {
  it('reach the agent, and are found nowhere in Redis, Bull Board, the runs pages, status or the logs', async () => {
    const dir = tempDir('agent-secrets');
    const harnessSecret = `harness-secret-${randomUUID()}`;
    const memberSecret = `member-secret-${randomUUID()}`;
    const seen = { harness: path.join(dir, 'seen-harness'), member: path.join(dir, 'seen-member') };
    const file = await writeHarness(dir, {
      name: 'secretive',
      agent: { ...writesEnv('SECRET', seen.harness), env: { SECRET: harnessSecret } },
      team: [
        { name: 'inherits', prompt: 'write the secret down' },
        { name: 'own', prompt: 'write your own secret down', agent: { ...writesEnv('SECRET', seen.member), env: { SECRET: memberSecret } } },
      ],
    });
    const secrets = [harnessSecret, memberSecret];

    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const submitted = await fleet.reins(['submit', file, '--json']);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const runId = (JSON.parse(submitted.stdout) as { runId: string }).runId;
      const view = await waitForRunEnd(new RunStore(redis.client, keys), runId);
      expect(view.status).toBe('succeeded');

      // Each agent got its own agent's value.
      expect(readFileSync(seen.harness, 'utf8')).toBe(harnessSecret);
      expect(readFileSync(seen.member, 'utf8')).toBe(memberSecret);

      // Redis: the values were kept apart from the jobs and deleted at the run's end; the names stay.
      const dump = await dumpPrefix(redis.client, fleet);
      expect(dump.keys).toContain(keys.run(runId));
      expect(dump.keys).toContain(`${keys.bullPrefix}:control:${runId}`);
      expect(dump.keys).not.toContain(keys.secrets(runId));
      for (const secret of secrets) expect(dump.text).not.toContain(secret);
      expect(dump.text).toContain('"SECRET":"[redacted]"');

      // Bull Board: the queues' job lists and each job, as its UI fetches them.
      const base = await fleet.startBoard(await freePort());
      const api: string[] = [];
      for (const queue of ['control', 'agent']) {
        for (const status of ['latest', 'completed']) api.push(await (await fetch(`${base}/queues/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=50`)).text());
      }
      for (const jobPath of [`control/${runId}`, `agent/${runId}.inherits`, `agent/${runId}.own`]) {
        const job = await fetch(`${base}/queues/api/queues/${jobPath}`);
        expect(job.status, jobPath).toBe(200);
        api.push(await job.text());
      }
      const board = api.join('\n');
      expect(board).toContain(`${runId}.own`);
      expect(board).toContain('"SECRET":"[redacted]"');
      for (const secret of secrets) expect(board).not.toContain(secret);

      // The runs pages, status and runs for people and for programs.
      const pages = [await (await fetch(`${base}/runs`)).text(), await (await fetch(`${base}/runs/${runId}`)).text(), await (await fetch(`${base}/runs/${runId}/stream`)).text()];
      expect(pages[1]).toContain('write your own secret down');
      const cli = await Promise.all(
        [
          ['status', runId, '--json'],
          ['status', runId],
          ['runs', '--json'],
          ['logs', runId, 'own'],
        ].map((args) => fleet.reins(args)),
      );
      for (const result of cli) expect(result.exitCode, result.stderr).toBe(0);
      const shown = [...pages, ...cli.flatMap((r) => [r.stdout, r.stderr])].join('\n');
      for (const secret of secrets) expect(shown).not.toContain(secret);

      // The scheduler's, the worker's and the board's logs (at debug level).
      const logs = logsOf(fleet);
      expect(logs).toContain(runId);
      for (const secret of secrets) expect(logs).not.toContain(secret);
    });
  });

  it('wait a week for their run to be created, are kept while it runs, and are deleted when it is cancelled', async () => {
    const dir = tempDir('agent-secrets-life');
    const file = await writeHarness(dir, { name: 'kept', agent: { ...blockingAgent, env: { SECRET: 'kept-value' } }, team: [{ name: 'solo', prompt: 'p' }] });
    await withFleet({ redisUrl: redis.url, scheduler: false }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = new RunStore(redis.client, keys);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      // No scheduler yet: a submission that never became a run would leave its values for a week at most.
      const unclaimed = await redis.client.pttl(keys.secrets(runId));
      expect(unclaimed).toBeGreaterThan(0);
      expect(unclaimed).toBeLessThanOrEqual(SECRETS_UNCLAIMED_TTL_MS);

      await fleet.startScheduler();
      await waitFor(async () => (await store.getMember(runId, 'solo'))?.status === 'running', 'the agent to run');
      expect(await redis.client.pttl(keys.secrets(runId))).toBe(-1); // the run exists: kept, with no expiry

      const cancelled = await fleet.reins(['cancel', runId]);
      expect(cancelled.exitCode, cancelled.stderr).toBe(0);
      await waitFor(async () => (await store.activeRunIds()).includes(runId) === false, 'the cancelled run to retire');
      expect(await redis.client.exists(keys.secrets(runId))).toBe(0);
    });
  });

  it('a member whose value is gone fails at once, naming the variable, and never runs with the placeholder', async () => {
    const dir = tempDir('agent-secrets-gone');
    const seen = path.join(dir, 'seen');
    const file = await writeHarness(dir, { name: 'forgotten', retry: { attempts: 3 }, agent: { ...writesEnv('SECRET', seen), env: { SECRET: 'never-stored' } }, team: [{ name: 'solo', prompt: 'p' }] });
    await withFleet({ redisUrl: redis.url, scheduler: false }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = new RunStore(redis.client, keys);
      const submitted = await fleet.reins(['submit', file]);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const runId = submitted.stdout.trim();
      // As if the run had ended and its values been deleted: the job names SECRET, Redis holds no value.
      expect(await redis.client.del(keys.secrets(runId))).toBe(1);
      await fleet.startScheduler();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('failed');
      const attempts = await store.readAttempts(runId, 'solo');
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.message).toContain('agent.env SECRET: no value stored for run');
      expect(existsSync(seen)).toBe(false);
    });
  });

  it('a retry of an ended run reads its values again from the harness file, and is refused when the file no longer sets them', async () => {
    const dir = tempDir('agent-secrets-retry');
    const seen = path.join(dir, 'seen');
    const fixed = path.join(dir, 'fixed');
    const secret = `retry-secret-${randomUUID()}`;
    // Fails until the marker exists, then writes down the value it was given.
    const script = `const fs=require('fs');if(!fs.existsSync(${JSON.stringify(fixed)}))process.exit(1);fs.writeFileSync(${JSON.stringify(seen)}, process.env.SECRET ?? '(unset)')`;
    const harness = (env: Record<string, string>) => ({ name: 'retried', retry: { attempts: 1 }, agent: { kind: 'command', argv: [process.execPath, '-e', script], env }, team: [{ name: 'solo', prompt: 'p' }] });
    const file = await writeHarness(dir, harness({ SECRET: secret }));
    await withFleet({ redisUrl: redis.url }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = new RunStore(redis.client, keys);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      expect((await waitForRunEnd(store, runId)).status).toBe('failed');
      expect(await redis.client.exists(keys.secrets(runId))).toBe(0);

      await writeHarness(dir, harness({ OTHER: 'x' }));
      const refused = await fleet.reins(['retry', runId]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain(`run ${runId}'s agent.env values (SECRET) were deleted when it ended`);
      expect(refused.stderr).toContain('no longer sets SECRET');
      expect((await store.getRun(runId))!.status).toBe('failed');
      expect(await redis.client.exists(keys.secrets(runId))).toBe(0);

      await writeHarness(dir, harness({ SECRET: secret }));
      writeFileSync(fixed, '');
      const retried = await fleet.reins(['retry', runId]);
      expect(retried.exitCode, retried.stderr).toBe(0);
      expect((await waitForRunEnd(store, runId)).status).toBe('succeeded');
      expect(readFileSync(seen, 'utf8')).toBe(secret);
      expect(await redis.client.exists(keys.secrets(runId))).toBe(0);
      expect((await dumpPrefix(redis.client, fleet)).text).not.toContain(secret);
    });
  });
});
