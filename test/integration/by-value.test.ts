import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUEUES, agentJobId, createKeys, openQueue } from '@reins/shared';
import { useRedis } from '../helpers/redis.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitForRunEnd } from '../helpers/chaos.js';

const redis = useRedis();

/** A command agent: one `sh -c` script, run in the member's workspace. */
const sh = (script: string) => ({ kind: 'command', argv: ['sh', '-c', script] });

/** A skill folder `<root>/<name>` with its SKILL.md and any more files. */
async function skill(root: string, name: string, files: Record<string, string> = {}): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'SKILL.md'), `---\nname: ${name}\ndescription: The ${name} skill.\n---\nUse it.\n`);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  return dir;
}

describe('reins submit checks skills before anything reaches Redis', () => {
  it('refuses a skill over its cap, a link out of a skill folder, and skills over the run cap: exit 2, named, no keys', async () => {
    const dir = tempDir('skill-caps');
    const skills = path.join(dir, 'skills');
    await skill(skills, 'big', { 'data.txt': 'x'.repeat(2_000) });
    const linky = await skill(skills, 'linky');
    await symlink('/etc/hostname', path.join(linky, 'host.txt'));
    await skill(skills, 'half-a', { 'a.txt': 'a'.repeat(600) });
    await skill(skills, 'half-b', { 'b.txt': 'b'.repeat(600) });
    const harness = (name: string, used: string[]) => writeHarness(dir, { name, skillPaths: ['skills'], agent: sh('true'), team: [{ name: 'm', prompt: 'p', skills: used }] }, `${name}.yaml`);

    await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
      const keys = () => redis.client.keys(`{${fleet.prefix}}*`);
      const caps = { REINS_SKILL_MAX_BYTES: '1500', REINS_RUN_SKILLS_MAX_BYTES: '1200' };

      const tooBig = await fleet.reins(['submit', await harness('too-big', ['big'])], { env: caps });
      expect(tooBig.exitCode, tooBig.stderr).toBe(2);
      const bigSize = 2_000 + (await readFile(path.join(skills, 'big', 'SKILL.md'))).length;
      expect(tooBig.stderr).toContain(`skill big: is 2 KiB (${bigSize} bytes) in ${path.join(skills, 'big')}, over the cap of 1.5 KiB (1500 bytes) a skill (REINS_SKILL_MAX_BYTES)`);
      expect(await keys()).toEqual([]);

      const linked = await fleet.reins(['submit', await harness('linked', ['linky'])], { env: caps });
      expect(linked.exitCode, linked.stderr).toBe(2);
      expect(linked.stderr).toContain(`skill linky: the symbolic link host.txt points outside the skill folder ${linky} (to /etc/hostname)`);
      expect(await keys()).toEqual([]);

      const together = await fleet.reins(['submit', await harness('together', ['half-a', 'half-b'])], { env: caps });
      expect(together.exitCode, together.stderr).toBe(2);
      expect(together.stderr).toMatch(/skills: the run's skills total .* \(half-a .*, half-b .*\), over the cap of 1\.2 KiB \(1200 bytes\) a run \(REINS_RUN_SKILLS_MAX_BYTES\)/);
      expect(await keys()).toEqual([]);
    });
  });
});

describe('hosts that share only Redis', () => {
  it("carries a skill by value and a scratch member's work to a dependant on another worker with its own data dir", async () => {
    const dir = tempDir('by-value');
    const mySkills = path.join(dir, 'my-skills');
    const styleDir = await skill(mySkills, 'notes-style', { 'extra/tips.md': 'Keep notes short.\n' });
    const file = await writeHarness(dir, {
      name: 'by-value',
      skillPaths: ['my-skills'],
      team: [
        { name: 'writer', prompt: 'write', requires: ['host-a'], skills: ['notes-style'], agent: sh('mkdir -p out && printf "from the writer\\n" > out/result.txt && ln -s result.txt out/latest') },
        {
          name: 'reader',
          prompt: 'read',
          requires: ['host-b'],
          depends_on: ['writer'],
          skills: ['notes-style'],
          agent: sh('cat inputs/writer/out/latest .claude/skills/notes-style/extra/tips.md > got.txt && ls -A inputs/writer > listing.txt'),
        },
      ],
    });
    const hostA = tempDir('host-a');
    const hostB = tempDir('host-b');
    await withFleet({ redisUrl: redis.url, workers: 0, env: CHAOS_ENV }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const submitted = await fleet.reins(['submit', file]);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const runId = submitted.stdout.trim();
      // Gone from the submitter's disk before any worker runs: only the copy in Redis is left.
      await rm(styleDir, { recursive: true });
      await fleet.startWorker('a', { REINS_DATA_DIR: hostA, REINS_WORKER_LABELS: 'host-a' });
      await fleet.startWorker('b', { REINS_DATA_DIR: hostB, REINS_WORKER_LABELS: 'host-b' });

      const view = await waitForRunEnd(store, runId);
      expect(view.members.map((m) => [m.name, m.status, m.error])).toEqual([
        ['writer', 'succeeded', undefined],
        ['reader', 'succeeded', undefined],
      ]);
      const writer = (await store.getMember(runId, 'writer'))!;
      const reader = (await store.getMember(runId, 'reader'))!;
      expect([writer.workerId, reader.workerId]).toEqual(['a', 'b']);
      expect(writer.workspace!.startsWith(hostA)).toBe(true);
      expect(reader.workspace!.startsWith(hostB)).toBe(true);
      // Nothing of the writer is beside the reader on host b: it came through Redis.
      expect(existsSync(path.join(path.dirname(reader.workspace!), 'writer'))).toBe(false);
      expect(await readFile(path.join(reader.workspace!, 'got.txt'), 'utf8')).toBe('from the writer\nKeep notes short.\n');
      // What reins put in the writer's workspace (its skills) is not part of its work.
      expect((await readFile(path.join(reader.workspace!, 'listing.txt'), 'utf8')).split('\n').filter(Boolean)).toEqual(['.claude', 'out']);
      expect(existsSync(path.join(reader.workspace!, 'inputs', 'writer', '.claude', 'skills'))).toBe(false);
      // Job data names skills, never a folder on the submitter's machine.
      const queue = openQueue(`${QUEUES.agent}@host-b`, redis.client, createKeys(fleet.prefix), { readOnly: true });
      const job = await queue.getJob(agentJobId(runId, 'reader'));
      await queue.close();
      expect(job!.data.skills).toEqual(['notes-style']);
      expect(JSON.stringify(job!.data)).not.toContain(mySkills);
    });
  });

  it('fails a scratch member whose workspace is over the artifact cap, naming the cap, and does not retry it', async () => {
    const file = await writeHarness(tempDir('too-large'), {
      name: 'too-large',
      retry: { attempts: 3 },
      team: [
        { name: 'hoarder', prompt: 'hoard', agent: sh('head -c 5000 /dev/zero > big.bin') },
        { name: 'after', prompt: 'never', depends_on: ['hoarder'], agent: sh('true') },
      ],
    });
    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_ARTIFACT_MAX_BYTES: '1000' } }, async (fleet) => {
      const store = storeOf(redis.client, fleet);
      const runId = (await fleet.reins(['submit', file])).stdout.trim();
      const view = await waitForRunEnd(store, runId);
      expect(view.status).toBe('failed');
      const hoarder = (await store.getMember(runId, 'hoarder'))!;
      expect(hoarder).toMatchObject({ status: 'failed', attempts: 1, errorClass: 'artifact_too_large' });
      expect(hoarder.error).toContain('over the cap of 1000 B (1000 bytes, REINS_ARTIFACT_MAX_BYTES)');
      expect(hoarder.error).toContain('4.9 KiB (5000 bytes)');
      expect(hoarder.error).toContain('repo:');
      expect((await store.readAttempts(runId, 'hoarder')).map((a) => a.outcome)).toEqual(['artifact_too_large']);
      expect((await store.getMember(runId, 'after'))?.status).toBe('skipped');
      expect(await redis.client.hexists(createKeys(fleet.prefix).artifacts(runId), 'hoarder')).toBe(0);
    });
  });
});
