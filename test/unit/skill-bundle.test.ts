import { lstat, mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSpecError, unpackFolder } from '@reins/shared';
import type { SpecError } from '../../libs/shared/src/errors/spec-error.js';
import { packSkills } from '../../libs/shared/src/spec/skill-bundle.js';
import { resolveHarness } from '../../libs/shared/src/spec/load.js';
import { readSkillCatalogue, type SkillInfo } from '../../libs/shared/src/spec/skills.js';
import { tempDir } from '../helpers/test-root.js';

async function skill(root: string, name: string, files: Record<string, string> = {}): Promise<SkillInfo> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'SKILL.md'), 'x'.repeat(100));
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content);
  return { name, description: `the ${name} skill`, dir };
}

async function refusal(promise: Promise<unknown>): Promise<SpecError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSpecError(error)) throw new Error(`expected a SpecError, got ${String(error)}`);
  return error;
}

const caps = { skillMaxBytes: 1_000, runSkillsMaxBytes: 1_500 };

describe('packSkills', () => {
  it('packs each skill, keeping links that stay inside its folder', async () => {
    const root = tempDir('skills');
    const review = await skill(root, 'review', { 'notes.md': 'notes' });
    await symlink('notes.md', path.join(review.dir, 'latest.md'));
    const packed = await packSkills('h.yaml', { review }, caps);
    expect([...packed.keys()]).toEqual(['review']);
    const dest = tempDir('unpacked');
    await unpackFolder(packed.get('review')!, dest);
    expect(await readFile(path.join(dest, 'latest.md'), 'utf8')).toBe('notes');
  });

  it('refuses a skill over its cap, naming it, its size and the cap, and packs nothing', async () => {
    const root = tempDir('skills');
    const big = await skill(root, 'big', { 'data.bin': 'y'.repeat(1_000) });
    const error = await refusal(packSkills('h.yaml', { big }, caps));
    expect(error.issues).toEqual([{ path: 'skill big', message: `is 1.1 KiB (1100 bytes) in ${big.dir}, over the cap of 1000 B (1000 bytes) a skill (REINS_SKILL_MAX_BYTES)` }]);
  });

  it("refuses skills over the run's cap together, with each one's size", async () => {
    const root = tempDir('skills');
    const one = await skill(root, 'one', { 'a.txt': 'a'.repeat(700) });
    const two = await skill(root, 'two', { 'b.txt': 'b'.repeat(700) });
    const error = await refusal(packSkills('h.yaml', { one, two }, caps));
    expect(error.issues).toEqual([{ path: 'skills', message: "the run's skills total 1.6 KiB (1600 bytes) (one 800 B, two 800 B), over the cap of 1.5 KiB (1500 bytes) a run (REINS_RUN_SKILLS_MAX_BYTES)" }]);
  });

  it('refuses a link out of a skill folder, naming the skill, the link and its target', async () => {
    const root = tempDir('skills');
    const leaky = await skill(root, 'leaky');
    await symlink('../../secrets.txt', path.join(leaky.dir, 'secrets.txt'));
    const error = await refusal(packSkills('h.yaml', { leaky }, caps));
    expect(error.issues).toEqual([
      {
        path: 'skill leaky',
        message: `the symbolic link secrets.txt points outside the skill folder ${leaky.dir} (to ../../secrets.txt); skills are copied to other hosts, so put the file itself in the folder`,
      },
    ]);
    expect(error.message).toContain('Invalid harness h.yaml');
  });

  it('refuses a link in a skill folder that points to nothing, naming the skill and the link', async () => {
    const root = tempDir('skills');
    const broken = await skill(root, 'broken');
    await symlink('gone.md', path.join(broken.dir, 'notes.md'));
    const error = await refusal(packSkills('h.yaml', { broken }, caps));
    expect(error.issues).toEqual([{ path: 'skill broken', message: `the symbolic link notes.md in the skill folder ${broken.dir} points to gone.md, which does not exist` }]);
  });

  it('packs a skill folder that is itself a link by value: the unpacked skill holds files, never a link to the source', async () => {
    const root = tempDir('skills');
    const elsewhere = await skill(tempDir('elsewhere'), 'shared', { 'notes.md': 'shared notes' });
    await symlink(elsewhere.dir, path.join(root, 'shared'));
    const packed = await packSkills('h.yaml', { shared: { ...elsewhere, dir: path.join(root, 'shared') } }, caps);
    const dest = path.join(tempDir('workspace'), '.claude', 'skills', 'shared');
    await unpackFolder(packed.get('shared')!, dest);
    expect((await lstat(dest)).isDirectory()).toBe(true);
    expect((await lstat(path.join(dest, 'notes.md'))).isFile()).toBe(true);
    expect(await readFile(path.join(dest, 'notes.md'), 'utf8')).toBe('shared notes');
  });
});

describe('the skill catalogue', () => {
  it('reads only the head of a huge SKILL.md for its frontmatter; the skill cap then refuses it by size', async () => {
    const root = tempDir('skills');
    const dir = path.join(root, 'huge');
    await mkdir(dir);
    await writeFile(path.join(dir, 'SKILL.md'), '---\nname: huge\ndescription: d\n---\n');
    await truncate(path.join(dir, 'SKILL.md'), 3 * 1024 ** 3);
    const catalogue = await readSkillCatalogue([root]);
    expect(catalogue.problems).toEqual([]);
    const error = await refusal(packSkills('h.yaml', Object.fromEntries(catalogue.skills), caps));
    expect(error.issues[0]).toEqual({ path: 'skill huge', message: `is 3 GiB (3221225472 bytes) in ${dir}, over the cap of 1000 B (1000 bytes) a skill (REINS_SKILL_MAX_BYTES)` });
  });

  it('names a dangling link in a skills folder as a broken skill, which the harness that lists the folder reports (exit 2)', async () => {
    const root = tempDir('skills');
    await skill(root, 'fine', { 'SKILL.md': '---\nname: fine\ndescription: d\n---\n' });
    await symlink('/nonexistent/skill', path.join(root, 'ghost'));
    const error = await refusal(resolveHarness({ name: 'h', skillPaths: [root], team: [{ name: 'a', prompt: 'p', skills: ['fine'] }] }, { skillsDirs: [], source: 'h.yaml', baseDir: root }));
    expect(error.issues).toEqual([{ path: 'skillPaths', message: `malformed skill at ${path.join(root, 'ghost')}: is a symbolic link to /nonexistent/skill, which does not exist` }]);
  });
});
