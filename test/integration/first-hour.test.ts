import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunStore, createKeys } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { repoRoot, withFleet } from '../helpers/fleet.js';

const redis = useRedis();

/**
 * What a newcomer sees following the README with examples/hello.yaml, on a worker whose id is its host
 * name (the default): every defect of the first hour that issue 15 lists, as the user meets it.
 */
describe('the first hour with examples/hello.yaml', () => {
  it('shows what the team made, every member in the logs, a duration that covers the work, and plain words', async () => {
    await withFleet({ redisUrl: redis.url, workers: 0 }, async (fleet) => {
      const host = os.hostname();
      await fleet.startWorker(host);
      const base = await fleet.startBoard(await freePort());

      const submitted = await fleet.reins(['submit', path.join(repoRoot, 'examples/hello.yaml'), '--wait'], { timeoutMs: 30_000 });
      expect(submitted.exitCode, `${submitted.stdout}${submitted.stderr}${fleet.workers[0]!.log()}`).toBe(0);
      const runId = /r-[a-z0-9]+/.exec(submitted.stdout)![0];
      // What `together` made, at the end of --wait: the last lines of its output (it printed no result line).
      expect(submitted.stdout).toMatch(/together:\n(?:.*\n)*?\s+summary:\s+Hello, world!\n\s+Bonjour, le monde !/);
      expect(submitted.stdout).toMatch(/english:\n(?:.*\n)*?\s+summary:\s+wrote english\.txt/);

      const status = await fleet.reins(['status', runId]);
      expect(status.exitCode, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/summary:\s+Hello, world!\n\s+Bonjour, le monde !/);
      // Ended members have no session to attach to, and status says so instead of printing a dead command.
      expect(status.stdout).not.toContain('tmux -S');
      expect(status.stdout).toContain(`attach:    - (its tmux session ended with the agent; reins logs ${runId} english shows what it did)`);

      // Every member's attempt starts, ends and output, interleaved, each line naming its member.
      const logs = await fleet.reins(['logs', runId]);
      expect(logs.exitCode, logs.stderr).toBe(0);
      for (const member of ['english', 'french', 'together']) {
        expect(logs.stdout).toMatch(new RegExp(`${member}\\s+attempt\\s+attempt 1 started on ${host}\\n`));
        expect(logs.stdout).toMatch(new RegExp(`${member}\\s+attempt\\s+attempt 1 succeeded`));
      }
      expect(logs.stdout).toMatch(/together\s+output\s+Hello, world!/);
      expect(logs.stdout).toMatch(/together\s+output\s+Bonjour, le monde !/);
      expect(logs.stdout).not.toContain(`${host} (${host})`);
      const lines = logs.stdout.trim().split('\n');
      const firstOf = (member: string, text: string) => lines.findIndex((l) => l.includes(member) && l.includes(text));
      expect(firstOf('together', 'started')).toBeGreaterThan(firstOf('english', 'succeeded'));
      expect(firstOf('together', 'started')).toBeGreaterThan(firstOf('french', 'succeeded'));

      // The run's duration covers its members' work: it starts no later than its first attempt.
      const store = new RunStore(redis.client, createKeys(fleet.prefix));
      const run = await store.requireRun(runId);
      const attempts = (await Promise.all(run.members.map((m) => store.readAttempts(runId, m)))).flat();
      expect(attempts).toHaveLength(3);
      expect(run.startedAt).toBeDefined();
      expect(run.startedAt!).toBeLessThanOrEqual(Math.min(...attempts.map((a) => a.startedAt)));
      expect(run.endedAt!).toBeGreaterThanOrEqual(Math.max(...attempts.map((a) => a.endedAt)));

      const attach = await fleet.reins(['attach', runId, 'english']);
      expect(attach.exitCode).toBe(1);
      expect(attach.stderr).toContain(`english of run ${runId} has succeeded, so there is no session to attach to; reins logs ${runId} english shows what it did`);

      // The board: what together printed, its summary, no "$0.0000" for command agents, the host once.
      const page = await (await fetch(`${base}/runs/${runId}`)).text();
      expect(page).toContain('Hello, world!');
      expect(page).toContain('<pre class="summary">Hello, world!\nBonjour, le monde !</pre>');
      expect(page).not.toContain('no events yet');
      expect(page).not.toContain('$0.0000');
      expect(page).not.toContain(`(${host})`);
      const list = await (await fetch(`${base}/runs`)).text();
      expect(list).toContain(runId);
      expect(list).not.toContain('$0.0000');

      // Bull Board works offline (no stylesheet or font from elsewhere) and links back to the runs.
      const queues = await fetch(`${base}/queues`);
      expect(queues.status).toBe(200);
      const queuesPage = await queues.text();
      expect(queuesPage).toContain('static/js/main.');
      expect(queuesPage).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
      expect(queuesPage).not.toContain('fonts.googleapis');
      expect(queuesPage).toContain('<a href="/runs" id="reins-runs-link"');
    });
  });
});
