import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../libs/shared/src/errors/spec-error.js';
import { resolveHarness } from '../../libs/shared/src/spec/load.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'reins-unit-skillpaths-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function skill(dir: string, name: string, frontmatter: string): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'SKILL.md'), `${frontmatter}\n# ${name}\n`);
}

const issuesOf = async (value: unknown, baseDir: string, skillsDirs: string[]) => {
  try {
    await resolveHarness(value, { skillsDirs, source: 'h.yaml', baseDir });
    return [];
  } catch (error) {
    if (error instanceof SpecError) return error.issues;
    throw error;
  }
};

describe("skills from the harness's own paths", () => {
  it("adds skills from skillPaths, relative to the harness file, and lets them override reins' own", async () => {
    const own = path.join(root, 'own');
    const mine = path.join(root, 'project', 'my-skills');
    await skill(own, 'shared', '---\nname: shared\ndescription: reins version\n---');
    await skill(mine, 'shared', '---\nname: shared\ndescription: my version\n---');
    await skill(mine, 'deploy', '---\nname: deploy\ndescription: How we deploy.\n---');
    const resolved = await resolveHarness(
      { name: 'h', skillPaths: ['my-skills'], team: [{ name: 'a', prompt: 'p', skills: ['shared', 'deploy'] }] },
      { skillsDirs: [own], source: 'h.yaml', baseDir: path.join(root, 'project') },
    );
    expect(Object.values(resolved.skills)).toEqual([
      { name: 'shared', description: 'my version', dir: path.join(mine, 'shared') },
      { name: 'deploy', description: 'How we deploy.', dir: path.join(mine, 'deploy') },
    ]);
  });

  it('rejects a skillPaths folder that does not exist, naming it', async () => {
    const issues = await issuesOf({ name: 'h', skillPaths: ['nowhere'], team: [{ name: 'a', prompt: 'p' }] }, root, []);
    expect(issues).toEqual([{ path: 'skillPaths[0]', message: `expected an existing directory of skills, got "nowhere" (${path.join(root, 'nowhere')})` }]);
  });

  it("rejects a malformed skill in the harness's own folders with its path, even when no member uses it", async () => {
    const mine = path.join(root, 'broken-skills');
    await skill(mine, 'ok', '---\nname: ok\ndescription: fine\n---');
    await skill(mine, 'bad', 'no frontmatter at all');
    const issues = await issuesOf({ name: 'h', skillPaths: [mine], team: [{ name: 'a', prompt: 'p' }] }, root, []);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('skillPaths');
    expect(issues[0]!.message).toContain(`malformed skill at ${path.join(mine, 'bad')}`);
  });

  it('gives a plan: auto harness every valid skill, for the planner to choose from', async () => {
    const own = path.join(root, 'all');
    await skill(own, 'one', '---\nname: one\ndescription: first\n---');
    await skill(own, 'two', '---\nname: two\ndescription: second\n---');
    const resolved = await resolveHarness({ name: 'h', plan: 'auto', goal: 'g' }, { skillsDirs: [own], source: 'h.yaml', baseDir: root });
    expect(Object.keys(resolved.skills).sort()).toEqual(['one', 'two']);
  });

  it('asks plan: auto for a goal and no team, and an ordinary harness for a team', async () => {
    expect(await issuesOf({ name: 'h', plan: 'auto' }, root, [])).toEqual([{ path: 'goal', message: 'expected a goal: plan: auto builds the team from it' }]);
    expect(await issuesOf({ name: 'h', plan: 'auto', goal: 'g', team: [{ name: 'a', prompt: 'p' }] }, root, [])).toEqual([{ path: 'team', message: expect.stringContaining('expected no team with plan: auto') }]);
    expect(await issuesOf({ name: 'h' }, root, [])).toEqual([{ path: 'team', message: 'expected a team of 1 to 8 members, or plan: auto with a goal' }]);
  });
});
