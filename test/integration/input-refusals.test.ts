import { randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { QUEUES, RunStore, agentJobId, createKeys, newRunId } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { waitFor } from '../helpers/chaos.js';
import { tempDir } from '../helpers/test-root.js';

const redis = useRedis();

const CONTROL = 'expected no control characters (tab, newline and carriage return are allowed)';
/** A command agent that would leave a mark on the worker: it must never run. */
const touch = (mark: string) => ({ kind: 'command', argv: ['touch', mark] });

describe('reins submit refuses hostile input before anything reaches Redis', () => {
  it('a NUL in a prompt or argv, a dangling link in a skills folder, an alias bomb, 6.6 MB of binary noise and hundreds of errors: exit 2, named, printed in bounds, no keys', async () => {
    const dir = tempDir('refusals');
    const skills = path.join(dir, 'skills');
    await mkdir(skills, { recursive: true });
    await symlink(path.join(dir, 'gone'), path.join(skills, 'ghost'));
    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      const keys = () => redis.client.keys(`{${fleet.prefix}}*`);

      const prompt = await fleet.reins([
        'submit',
        await writeHarness(
          dir,
          {
            name: 'nul',
            agent: touch('/tmp/x'),
            team: [
              { name: 'a', prompt: 'p' },
              { name: 'b', prompt: 'one\0two' },
            ],
          },
          'nul.yaml',
        ),
      ]);
      expect(prompt.exitCode, prompt.stderr).toBe(2);
      expect(prompt.stderr).toContain(`team[1].prompt: ${CONTROL}, got \\x00 at character 4: "one\\x00two"`);

      const argv = await fleet.reins(['submit', await writeHarness(dir, { name: 'argv', agent: { kind: 'command', argv: ['sh', '-c', 'echo\0'], env: { 'K\0': 'v' } }, team: [{ name: 'a', prompt: 'p' }] }, 'argv.yaml')]);
      expect(argv.exitCode, argv.stderr).toBe(2);
      expect(argv.stderr).toContain(`agent.argv[2]: ${CONTROL}, got \\x00 at character 5: "echo\\x00"`);
      expect(argv.stderr).toContain('agent.env.K\\x00: expected an environment variable name, got "K\\x00"');

      const dangling = await fleet.reins(['submit', await writeHarness(dir, { name: 'ghost', skillPaths: ['skills'], agent: touch('/tmp/x'), team: [{ name: 'a', prompt: 'p' }] }, 'ghost.yaml')]);
      expect(dangling.exitCode, dangling.stderr).toBe(2);
      expect(dangling.stderr).toContain(`skillPaths: malformed skill at ${path.join(skills, 'ghost')}: is a symbolic link to ${path.join(dir, 'gone')}, which does not exist`);

      const levels = ['l0: &l0 [a, a, a, a, a, a, a, a, a]', ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(', ')}]`)];
      const bombFile = path.join(dir, 'bomb.yaml');
      await writeFile(bombFile, `name: bomb\n${levels.join('\n')}\nteam: [{ name: a, prompt: p }]\n`);
      const bomb = await fleet.reins(['submit', bombFile]);
      expect(bomb.exitCode, bomb.stderr).toBe(2);
      expect(bomb.stderr).toContain('(file): its YAML aliases expand too far');

      const binary = path.join(dir, 'binary.yaml');
      await writeFile(binary, randomBytes(6_600_000));
      const noise = await fleet.reins(['submit', binary]);
      expect(noise.exitCode, noise.stderr).toBe(2);
      expect(noise.stderr).toBe(`Invalid harness ${binary}:\n  - (file): is 6.3 MiB (6600000 bytes), over the cap of 1 MiB (1048576 bytes) a harness file`);

      // Hundreds of YAML errors in one file, once printed a line each: now 20, then how many more.
      const garbage = path.join(dir, 'deep.yaml');
      await writeFile(garbage, `name: x\nteam: ${'['.repeat(200_000)}\n`);
      const many = await fleet.reins(['validate', garbage]);
      expect(many.exitCode, many.stderr).toBe(2);
      const lines = many.stderr.trim().split('\n');
      expect(lines).toHaveLength(22);
      expect(lines.at(-1)).toMatch(/^ {2}… and \d+ more$/);
      const json = await fleet.reins(['validate', garbage, '--json']);
      const report = JSON.parse(json.stdout) as { ok: boolean; issues: unknown[]; more?: number };
      expect(report.issues).toHaveLength(200);
      expect(report.more).toBeGreaterThan(0);

      expect(await keys()).toEqual([]);
    });
  });
});

describe('the scheduler refuses a submission that did not pass the checks of reins submit', () => {
  it('records a job added to the control queue by other means as a refused run, shown by reins runs and status; nothing of it runs', async () => {
    await withFleet({ redisUrl: redis.url, workers: 0 }, async (fleet) => {
      const keys = createKeys(fleet.prefix);
      const store = new RunStore(redis.client, keys);
      // As Bull Board's "add job" or a script with Redis access would: straight onto the queue, no addJob.
      const control = new Queue(QUEUES.control, { connection: redis.client, prefix: keys.bullPrefix });
      const submission = (runId: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ runId, source: '/bull-board', spec, skills: {}, submittedAt: Date.now(), ...extra });
      const nulId = newRunId();
      const skillId = newRunId();
      const goodId = newRunId();
      try {
        // What a submitter stores beside its job, as reins submit would: it goes with the refusal.
        await redis.client.hset(keys.skills(nulId), 'stray', 'not an archive');
        await redis.client.hset(keys.secrets(nulId), 'agent', JSON.stringify({ TOKEN: 'secret' }));
        await control.add('run.submit', submission(nulId, { name: 'sneaky', agent: touch('/tmp/pwned'), team: [{ name: 'a', prompt: 'hi\0there' }] }), { jobId: nulId });
        // A skill the run names with no archive stored beside it: the worker would fail all its attempts.
        await control.add('run.submit', submission(skillId, { name: 'skilled', agent: touch('/tmp/pwned'), team: [{ name: 'a', prompt: 'p', skills: ['absent'] }] }, { skills: { absent: 'd' } }), { jobId: skillId });
        // Not a submission at all, and a bad submission that claims an existing run's id (added after it, below).
        const bogusId = newRunId();
        await control.add('run.bogus', submission(bogusId, { name: 'bogus' }), { jobId: bogusId });
        await control.add('run.submit', submission(goodId, { name: 'fine', agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt: 'p' }] }), { jobId: goodId });

        const refused = await waitFor(async () => {
          const runs = await Promise.all([store.getRun(nulId), store.getRun(skillId)]);
          return runs.every((r) => r?.status === 'refused') ? runs : undefined;
        }, 'both bad submissions refused');
        expect(refused[0]!.refusal).toBe(`spec.team[0].prompt: ${CONTROL}, got \\x00 at character 3: "hi\\x00there"`);
        expect(refused[1]!.refusal).toBe('skill absent: is not stored with the run (reins submit stores every skill before the job)');
        expect(refused.map((r) => [r!.name, r!.members, r!.source])).toEqual([
          ['sneaky', [], '/bull-board'],
          ['skilled', [], '/bull-board'],
        ]);
        expect(await redis.client.exists(keys.skills(nulId), keys.secrets(nulId))).toBe(0);
        // Refused runs are listed, never active, and no agent job exists for them.
        expect(await redis.client.smembers(keys.activeRuns)).not.toContain(nulId);
        const agents = new Queue(QUEUES.agent, { connection: redis.client, prefix: keys.bullPrefix });
        expect(await agents.getJob(agentJobId(nulId, 'a'))).toBeUndefined();
        await agents.close();
        // The job itself failed once, without retries, with the refusal as its reason (Bull Board shows it).
        const job = await control.getJob(nulId);
        expect(await job!.getState()).toBe('failed');
        expect(job!.failedReason).toContain('submission refused:\nspec.team[0].prompt');

        // The well-formed one became a run as before, and a bad job claiming its id changes nothing of it.
        expect((await waitFor(() => store.getRun(goodId), 'the good run')).status).not.toBe('refused');
        const squatter = await control.add('run.submit', submission(goodId, { name: 'squatter', team: [{ name: 'a', prompt: '\0' }] }), { jobId: `${goodId}-again` });
        await waitFor(async () => (await squatter.getState()) === 'failed', 'the squatter refused');
        expect(await store.getRun(goodId)).toMatchObject({ name: 'fine', members: ['a'] });
        expect((await store.getRun(goodId))?.refusal).toBeUndefined();
        expect((await waitFor(() => store.getRun(bogusId), 'the bogus job refused')).refusal).toBe('(job): expected a run.submit job, got "run.bogus"');

        const listed = await fleet.reins(['runs']);
        expect(listed.exitCode, listed.stderr).toBe(0);
        expect(listed.stdout).toMatch(new RegExp(`${nulId}\\s+sneaky\\s+refused`));
        expect(listed.stdout).toContain(`  ${nulId}  spec.team[0].prompt: ${CONTROL}`);
        const json = JSON.parse((await fleet.reins(['runs', '--status', 'refused', '--json'])).stdout) as { runs: { runId: string; refusal?: string }[] };
        expect(json.runs.map((r) => r.runId).sort()).toEqual([nulId, skillId, bogusId].sort());
        // The board lists it with its first issue and shows every issue on its page, escaped as HTML.
        const base = await fleet.startBoard(await freePort());
        const list = await (await fetch(`${base}/runs?status=refused`)).text();
        const row = list.slice(list.indexOf(`data-run="${nulId}"`)).split('</tr>')[0]!;
        expect(row).toContain('data-status="refused"');
        expect(row).toContain(`spec.team[0].prompt: ${CONTROL}, got \\x00 at character 3: &quot;hi\\x00there&quot;`);
        const page = await fetch(`${base}/runs/${skillId}`);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('The scheduler refused this submission; nothing of it ran:</p><pre class="error">skill absent: is not stored with the run');

        const status = await fleet.reins(['status', skillId]);
        expect(status.exitCode).toBe(1);
        expect(status.stdout).toContain("refused by the scheduler's checks (source /bull-board):\n  skill absent: is not stored with the run");
      } finally {
        await control.close();
      }
    });
  });
});
