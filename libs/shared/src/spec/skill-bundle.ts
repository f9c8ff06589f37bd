import { readlink } from 'node:fs/promises';
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
 * that leaves its skill folder (it would mean nothing on another host), a skill over its cap, or the
 * skills together over the run's. Throws SpecError naming each skill, its size and the cap.
 */
export async function packSkills(source: string, skills: Readonly<Record<string, SkillInfo>>, caps: SkillCaps): Promise<Map<string, Buffer>> {
  const issues: InputIssue[] = [];
  const sizes: [string, number][] = [];
  for (const skill of Object.values(skills)) {
    const measure = await measureFolder(skill.dir);
    for (const link of measure.outsideLinks) {
      const target = await readlink(path.join(skill.dir, link));
      issues.push({
        path: `skill ${skill.name}`,
        message: `the symbolic link ${link} points outside the skill folder ${skill.dir} (to ${target}); skills are copied to other hosts, so put the file itself in the folder`,
      });
    }
    if (measure.bytes > caps.skillMaxBytes) {
      issues.push({ path: `skill ${skill.name}`, message: `is ${size(measure.bytes)} in ${skill.dir}, over the cap of ${size(caps.skillMaxBytes)} a skill (REINS_SKILL_MAX_BYTES)` });
    }
    sizes.push([skill.name, measure.bytes]);
  }
  const total = sizes.reduce((sum, [, bytes]) => sum + bytes, 0);
  if (total > caps.runSkillsMaxBytes) {
    const each = sizes.map(([name, bytes]) => `${name} ${formatBytes(bytes)}`).join(', ');
    issues.push({ path: 'skills', message: `the run's skills total ${size(total)} (${each}), over the cap of ${size(caps.runSkillsMaxBytes)} a run (REINS_RUN_SKILLS_MAX_BYTES)` });
  }
  if (issues.length > 0) throw new SpecError(source, issues);
  const packed = new Map<string, Buffer>();
  for (const skill of Object.values(skills)) packed.set(skill.name, await packFolder(skill.dir));
  return packed;
}
