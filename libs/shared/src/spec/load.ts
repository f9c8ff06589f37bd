import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { SpecError } from '../errors/spec-error.js';
import { issuesFromZod, type InputIssue } from '../errors/issue.js';
import { showValue } from '../errors/format.js';
import { HarnessSchema, type Harness } from './harness.js';
import { resolveRepo } from './repo.js';
import { readSkillCatalogue, type SkillInfo } from './skills.js';

/** A harness that passed every check, with its paths made absolute. */
export interface ResolvedHarness {
  spec: Harness;
  /** Where it came from, for messages. */
  source: string;
  /** Absolute, and an existing directory; undefined when the harness gives none. */
  workdir: string | undefined;
  /** Every skill a member names (every skill there is, with plan: auto), with its description and absolute folder. */
  skills: Record<string, SkillInfo>;
  /**
   * Where every member's branch starts: with `repo`, the commit its ref names on the remote now; with a
   * workdir that is a git repository with commits, its HEAD now.
   */
  baseCommit: string | undefined;
}

export interface LoadOptions {
  /** Folders that hold skills, searched in order. */
  skillsDirs: readonly string[];
}

/** Reads a YAML or JSON harness file and checks everything that can be checked before a run exists. */
export async function loadHarnessFile(file: string, options: LoadOptions): Promise<ResolvedHarness> {
  const source = path.resolve(file);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (error) {
    throw new SpecError(file, [{ path: '(file)', message: `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }]);
  }
  // YAML 1.2 is a superset of JSON, so one parser reads both and reports lines for either.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new SpecError(
      file,
      doc.errors.map((e) => ({ path: '(file)', message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  return resolveHarness(doc.toJS(), { ...options, source: file, baseDir: path.dirname(source) });
}

/** Checks a harness given as a value; a relative workdir is taken from baseDir. */
export async function resolveHarness(value: unknown, options: LoadOptions & { source: string; baseDir: string }): Promise<ResolvedHarness> {
  const parsed = HarnessSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw new SpecError(options.source, issuesFromZod(parsed.error, value));
  const spec = parsed.data;
  const issues: InputIssue[] = [];

  let workdir: string | undefined;
  if (spec.workdir !== undefined) {
    workdir = path.resolve(options.baseDir, spec.workdir);
    const info = await stat(workdir).catch(() => undefined);
    if (!info?.isDirectory()) {
      issues.push({ path: 'workdir', message: `expected an existing directory, got ${showValue(spec.workdir)} (${workdir})` });
    }
  }

  // The harness's own skill folders come after reins' own, so a user's skill of the same name wins.
  const skillsDirs = [...options.skillsDirs];
  for (const [i, dir] of (spec.skillPaths ?? []).entries()) {
    const resolved = path.resolve(options.baseDir, dir);
    const info = await stat(resolved).catch(() => undefined);
    if (!info?.isDirectory()) issues.push({ path: `skillPaths[${i}]`, message: `expected an existing directory of skills, got ${showValue(dir)} (${resolved})` });
    else skillsDirs.push(resolved);
  }
  const catalogue = await readSkillCatalogue(skillsDirs);
  const userDirs = skillsDirs.slice(options.skillsDirs.length);
  for (const problem of catalogue.problems) {
    // A broken skill in a folder the user named is an error even if no member uses it.
    if (userDirs.some((dir) => problem.dir.startsWith(`${dir}${path.sep}`))) issues.push({ path: 'skillPaths', message: `malformed skill at ${problem.dir}: ${problem.message}` });
  }
  const skills: Record<string, SkillInfo> = {};
  if (spec.plan === 'auto') {
    // The planner chooses from every skill, and the workers inject what it chose.
    for (const skill of catalogue.skills.values()) skills[skill.name] = skill;
  }
  const available = [...catalogue.skills.keys()].sort().join(', ') || 'none';
  (spec.team ?? []).forEach((member, i) => {
    (member.skills ?? []).forEach((name, j) => {
      const skill = catalogue.skills.get(name);
      if (skill) {
        skills[name] = skill;
        return;
      }
      const broken = catalogue.problems.find((p) => path.basename(p.dir) === name);
      issues.push({
        path: `team[${i}].skills[${j}]`,
        message: broken ? `skill "${name}" is malformed: ${broken.message}` : `unknown skill "${name}" (available: ${available})`,
      });
    });
  });

  let baseCommit = workdir && issues.length === 0 ? await gitHead(workdir) : undefined;
  // The remote is asked last: a harness with other mistakes is not worth a network round trip.
  if (spec.repo && issues.length === 0) {
    const resolved = await resolveRepo(spec.repo);
    if (resolved.ok) baseCommit = resolved.baseCommit;
    else issues.push(resolved.issue);
  }
  if (issues.length > 0) throw new SpecError(options.source, issues);
  return { spec, source: options.source, workdir, skills, baseCommit };
}

/** HEAD of the repository holding `dir`, or undefined when it is none (or has no commits). */
async function gitHead(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['-C', dir, 'rev-parse', '--verify', '--quiet', 'HEAD']);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}
