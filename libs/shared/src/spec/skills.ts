import { readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { readHead } from './read-head.js';

/** Claude Code's own limits on skill frontmatter. */
const SkillFrontmatterSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'expected lowercase letters, digits and "-", at most 64'),
  description: z.string().min(1).max(1024, 'expected at most 1024 characters'),
});

export interface SkillInfo {
  name: string;
  description: string;
  /** Absolute path of the folder that holds SKILL.md. */
  dir: string;
}

/** Why one skill folder cannot be used, with its path. */
export interface SkillProblem {
  dir: string;
  message: string;
}

export interface SkillCatalogue {
  skills: Map<string, SkillInfo>;
  problems: SkillProblem[];
}

/** Reads every `<dir>/<name>/SKILL.md` under the given folders. Later folders win on a name clash. */
export async function readSkillCatalogue(dirs: readonly string[]): Promise<SkillCatalogue> {
  const skills = new Map<string, SkillInfo>();
  const problems: SkillProblem[] = [];
  for (const root of dirs) {
    let entries: string[];
    try {
      entries = await readdir(root);
    } catch {
      continue;
    }
    for (const entry of entries.sort()) {
      const dir = path.join(root, entry);
      // A link to a folder elsewhere is a skill like any other (it is packed by value); a link to nothing is
      // a broken skill, named, not a crash.
      const info = await stat(dir).catch((error: NodeJS.ErrnoException) => error);
      if (info instanceof Error) {
        const target = await readlink(dir).catch(() => undefined);
        problems.push({ dir, message: target === undefined ? `cannot be read (${info.code ?? info.message})` : `is a symbolic link to ${target}, which does not exist` });
        continue;
      }
      if (!info.isDirectory()) continue;
      const result = await readSkill(dir);
      if ('message' in result) problems.push(result);
      else skills.set(result.name, result);
    }
  }
  return { skills, problems };
}

/** The frontmatter is a name and a description of at most 1024 characters: the first 64 KiB hold it, whatever the file's size. */
const SKILL_HEAD_BYTES = 64 * 1024;

export async function readSkill(dir: string): Promise<SkillInfo | SkillProblem> {
  const file = path.join(dir, 'SKILL.md');
  let text: string;
  try {
    const head = await readHead(file, SKILL_HEAD_BYTES);
    if (!head.regular) return { dir, message: `${file} is not a regular file` };
    text = head.bytes.toString('utf8');
  } catch {
    return { dir, message: `${file} is missing` };
  }
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text);
  if (!match) return { dir, message: `${file} has no YAML frontmatter (--- name, description ---)` };
  let frontmatter: unknown;
  try {
    frontmatter = parseYaml(match[1] ?? '');
  } catch (error) {
    return { dir, message: `${file} frontmatter is not YAML: ${(error as Error).message}` };
  }
  const parsed = SkillFrontmatterSchema.safeParse(frontmatter);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'frontmatter'}: ${i.message}`).join('; ');
    return { dir, message: `${file}: ${details}` };
  }
  if (parsed.data.name !== path.basename(dir)) {
    return { dir, message: `${file}: name "${parsed.data.name}" differs from its folder "${path.basename(dir)}"` };
  }
  return { name: parsed.data.name, description: parsed.data.description, dir };
}
