import { readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { SpecError } from '../errors/spec-error.js';
import type { InputIssue } from '../errors/issue.js';
import { formatBytes } from '../format.js';
import { measureFolder, packFolder } from '../runs/folder-pack.js';
import type { SkillInfo } from './skills.js';

/** The caps on what a run's skills may weigh (REINS_SKILL_MAX_BYTES, REINS_RUN_SKILLS_MAX_BYTES). */
export interface SkillCaps {
  skillMaxBytes: number;
  runSkillsMaxBytes: number;
}

const size = (bytes: number): string => `${formatBytes(bytes)} (${bytes} bytes)`;

/**
 * Packs every skill a run may use, to travel with it by value: workers on other hosts never read the
 * submitter's folders. Every skill is measured first and nothing is packed while any check fails: a link
 * that leaves its skill folder (it would mean nothing on another host) or points to nothing, a skill over
 * its cap, or the skills together over the run's. Throws SpecError naming each skill, its size and the cap.
 * A skill folder that is itself a link to a folder elsewhere is packed from there, by value like the rest.
 */
export async function packSkills(source: string, skills: Readonly<Record<string, SkillInfo>>, caps: SkillCaps): Promise<Map<string, Buffer>> {
  const issues: InputIssue[] = [];
  const sizes = new Map<string, number>();
  const roots = new Map<string, string>();
  for (const skill of Object.values(skills)) {
    const root = await realpath(skill.dir);
    roots.set(skill.name, root);
    const measure = await measureFolder(root);
    for (const link of measure.outsideLinks) {
      const target = await readlink(path.join(root, link));
      issues.push({
        path: `skill ${skill.name}`,
        message: `the symbolic link ${link} points outside the skill folder ${skill.dir} (to ${target}); skills are copied to other hosts, so put the file itself in the folder`,
      });
    }
    for (const link of measure.danglingLinks) {
      const target = await readlink(path.join(root, link));
      issues.push({ path: `skill ${skill.name}`, message: `the symbolic link ${link} in the skill folder ${skill.dir} points to ${target}, which does not exist` });
    }
    sizes.set(skill.name, measure.bytes);
  }
  issues.push(...skillCapIssues(sizes, caps, (name) => skills[name]?.dir));
  if (issues.length > 0) throw new SpecError(source, issues);
  const packed = new Map<string, Buffer>();
  for (const [name, root] of roots) packed.set(name, await packFolder(root));
  return packed;
}

/**
 * The caps on a run's skills, given each one's size (its files' bytes): one skill over REINS_SKILL_MAX_BYTES,
 * all of them over REINS_RUN_SKILLS_MAX_BYTES. `reins submit` measures the folders, the scheduler the archives.
 */
export function skillCapIssues(sizes: ReadonlyMap<string, number>, caps: SkillCaps, folderOf: (name: string) => string | undefined = () => undefined): InputIssue[] {
  const issues: InputIssue[] = [];
  for (const [name, bytes] of sizes) {
    const folder = folderOf(name);
    if (bytes > caps.skillMaxBytes) issues.push({ path: `skill ${name}`, message: `is ${size(bytes)}${folder ? ` in ${folder}` : ''}, over the cap of ${size(caps.skillMaxBytes)} a skill (REINS_SKILL_MAX_BYTES)` });
  }
  const total = [...sizes.values()].reduce((sum, bytes) => sum + bytes, 0);
  if (total > caps.runSkillsMaxBytes) {
    const each = [...sizes].map(([name, bytes]) => `${name} ${formatBytes(bytes)}`).join(', ');
    issues.push({ path: 'skills', message: `the run's skills total ${size(total)} (${each}), over the cap of ${size(caps.runSkillsMaxBytes)} a run (REINS_RUN_SKILLS_MAX_BYTES)` });
  }
  return issues;
}
