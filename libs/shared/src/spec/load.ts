import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { Lexer, parseDocument, type YAMLError } from 'yaml';
import { SpecError } from '../errors/spec-error.js';
import { issuesFromZod, type InputIssue } from '../errors/issue.js';
import { formatPath } from '../errors/format.js';
import { didYouMean, nearestName } from '../errors/suggest.js';
import { escapeControlChars } from '../control-chars.js';
import { showValue } from '../errors/format.js';
import { formatBytes } from '../format.js';
import { MAX_HARNESS_BYTES, inputBoundIssues } from './input-bounds.js';
import { HarnessShapeSchema, SkillNameSchema, harnessRuleIssues, type Harness } from './harness.js';
import { readHead, type FileHead } from './read-head.js';
import { RepoSchema, resolveRepo } from './repo.js';
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
  const text = await readHarnessText(file, source);
  // YAML 1.2 is a superset of JSON, so one parser reads both and reports lines for either.
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    const quote = once(() => unterminatedQuote(text));
    throw new SpecError(
      file,
      doc.errors.map((e) => ({ path: '(file)', message: yamlMessage(e, lines, quote) })),
    );
  }
  let value: unknown;
  try {
    // The yaml package's own guard against alias bombs (billion laughs): an alias may stand for at most
    // 100 nodes. It throws a ReferenceError, which must not reach the person as a crash.
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    throw new SpecError(file, [{ path: '(file)', message: `its YAML aliases expand too far (${error.message}; at most ${MAX_ALIAS_COUNT} nodes an alias): write the values out, or use fewer aliases` }]);
  }
  return resolveHarness(value, { ...options, source: file, baseDir: path.dirname(source) });
}

const MAX_ALIAS_COUNT = 100;

/**
 * The file's text, read only when it is a regular file within MAX_HARNESS_BYTES (a size from stat first, and
 * never more than the cap read, for a file that grows), and only when it is UTF-8 text: binary garbage is one
 * issue, not the hundreds the YAML parser finds in it.
 */
async function readHarnessText(file: string, source: string): Promise<string> {
  const refuse = (message: string) => new SpecError(file, [{ path: '(file)', message }]);
  const cap = `the cap of ${formatBytes(MAX_HARNESS_BYTES)} (${MAX_HARNESS_BYTES} bytes) a harness file`;
  let head: FileHead;
  try {
    // One byte past the cap tells a file that grew while it was read from one at the cap.
    head = await readHead(source, MAX_HARNESS_BYTES + 1);
  } catch (error) {
    throw refuse(`cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!head.regular) throw refuse('expected a regular file, got a directory, a device, a FIFO or a socket');
  if (head.size > MAX_HARNESS_BYTES) throw refuse(`is ${formatBytes(head.size)} (${head.size} bytes), over ${cap}`);
  if (head.bytes.length > MAX_HARNESS_BYTES) throw refuse(`grew over ${cap} while it was read`);
  const nul = head.bytes.indexOf(0);
  if (nul >= 0) throw refuse(`is not text: it holds a NUL byte (\\x00) at byte ${nul + 1}; a harness is YAML or JSON`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(head.bytes);
  } catch {
    throw refuse('is not text: it is not valid UTF-8; a harness is YAML or JSON');
  }
}

/** The function's value, worked out at the first call only. */
function once<T>(compute: () => T): () => T {
  let memo: { value: T } | undefined;
  return () => {
    memo ??= { value: compute() };
    return memo.value;
  };
}

/** Checks a harness given as a value; a relative workdir is taken from baseDir. */
export async function resolveHarness(value: unknown, options: LoadOptions & { source: string; baseDir: string }): Promise<ResolvedHarness> {
  // The shape alone, then the rules on whatever parts are well-formed, then the folders and skills: a shape
  // error must not hide a cycle, an unknown dependency or an unknown skill, so one pass lists everything.
  // Together these are HarnessSchema, which the control queue checks again.
  // First the bounds: a value over a size bound is refused before its shape costs anything.
  const bounds = inputBoundIssues(value);
  if (bounds.fatal)
    throw new SpecError(
      options.source,
      bounds.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  const parsed = HarnessShapeSchema.safeParse(value, { reportInput: true });
  const issues: InputIssue[] = [
    ...bounds.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    ...(parsed.success ? [] : issuesFromZod(parsed.error, value, HarnessShapeSchema)),
    ...harnessRuleIssues(value).map((i) => ({ path: formatPath(i.path), message: i.message, ...(i.suggestion ? { suggestion: i.suggestion } : {}) })),
  ];
  const parts = looseParts(value);

  let workdir: string | undefined;
  if (parts.workdir !== undefined) {
    workdir = path.resolve(options.baseDir, parts.workdir);
    const info = await stat(workdir).catch(() => undefined);
    if (!info?.isDirectory()) {
      issues.push({ path: 'workdir', message: `expected an existing directory, got ${showValue(parts.workdir)} (${workdir})` });
    }
  }

  // The harness's own skill folders come after reins' own, so a user's skill of the same name wins.
  const skillsDirs = [...options.skillsDirs];
  for (const [i, dir] of parts.skillPaths) {
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
  if (parts.planAuto) {
    // The planner chooses from every skill, and the workers inject what it chose.
    for (const skill of catalogue.skills.values()) skills[skill.name] = skill;
  }
  const available = [...catalogue.skills.keys()].sort().join(', ') || 'none';
  for (const { member, index, name } of parts.skills) {
    const skill = catalogue.skills.get(name);
    if (skill) {
      skills[name] = skill;
      continue;
    }
    const broken = catalogue.problems.find((p) => path.basename(p.dir) === name);
    const where = `team[${member}].skills[${index}]`;
    const suggestion = broken ? undefined : nearestName(name, catalogue.skills.keys());
    if (broken) issues.push({ path: where, message: `skill "${name}" is malformed: ${broken.message}` });
    else if (suggestion) issues.push({ path: where, message: `unknown skill "${name}" (${didYouMean(suggestion)} available: ${available})`, suggestion });
    else issues.push({ path: where, message: `unknown skill "${name}" (available: ${available})` });
  }

  let baseCommit = workdir && issues.length === 0 ? await gitHead(workdir) : undefined;
  // The remote is asked last, and only about a well-formed repo; it is asked even when other fields are
  // wrong, so an unreachable remote is reported in the same pass as the rest.
  const repo = RepoSchema.safeParse(asRecord(value)?.repo);
  if (repo.success && asRecord(value)?.workdir === undefined) {
    const resolved = await resolveRepo(repo.data);
    if (resolved.ok) baseCommit = resolved.baseCommit;
    else issues.push(resolved.issue);
  }
  if (issues.length > 0 || !parsed.success) throw new SpecError(options.source, issues);
  return { spec: parsed.data, source: options.source, workdir, skills, baseCommit };
}

const asRecord = (value: unknown): Record<string, unknown> | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined);

/** The parts of a harness the checks beyond its shape need, taken from whatever is well-formed in it. */
function looseParts(value: unknown): { workdir: string | undefined; skillPaths: [number, string][]; planAuto: boolean; skills: { member: number; index: number; name: string }[] } {
  const harness = asRecord(value) ?? {};
  const workdir = typeof harness.workdir === 'string' && harness.workdir !== '' ? harness.workdir : undefined;
  const skillPaths = Array.isArray(harness.skillPaths) ? (harness.skillPaths as unknown[]).flatMap((d, i): [number, string][] => (typeof d === 'string' && d !== '' ? [[i, d]] : [])) : [];
  const skills: { member: number; index: number; name: string }[] = [];
  if (Array.isArray(harness.team)) {
    (harness.team as unknown[]).forEach((m, member) => {
      const names = asRecord(m)?.skills;
      if (!Array.isArray(names)) return;
      // A name of the wrong shape is reported by the schema; looking it up would only say it twice.
      (names as unknown[]).forEach((name, index) => {
        if (SkillNameSchema.safeParse(name).success) skills.push({ member, index, name: name as string });
      });
    });
  }
  return { workdir, skillPaths, planAuto: harness.plan === 'auto', skills };
}

/** The lexer's markers for structure: they stand for no characters of the source. */
const LEXER_MARKERS = new Set(['\x02', '\x18', '\x1f']);

/**
 * A YAML error in reins' words. The parser places an unterminated quote, and some other errors, at the
 * end of the file (a line past the last one, for a file that ends in a newline): say where the quote opened,
 * and call the end the end. `lines` and `quote` are worked out once for all the errors of a file.
 */
function yamlMessage(error: YAMLError, lines: number, quote: () => ReturnType<typeof unterminatedQuote>): string {
  const first = escapeControlChars(error.message.split('\n')[0] ?? error.message);
  const at = error.linePos?.[0];
  if (error.code === 'TAB_AS_INDENT' && at) return `line ${at.line} is indented with a tab; YAML indents with spaces only`;
  if (error.code === 'MISSING_CHAR' && /quote/.test(first)) {
    const open = quote();
    if (open)
      return `line ${open.line}, column ${open.column}: the quoted string ${open.start} is never closed; add the closing ${open.quote} where it ends (a quoted string may run over lines, so the parser read on to the end of the file)`;
  }
  const message = at && at.line > lines ? first.replace(/ at line \d+, column \d+:?$/, ` at the end of the file (after line ${lines})`) : first.replace(/:$/, '');
  return message.length > 300 ? `${message.slice(0, 299)}…` : message;
}

/** Where the quoted scalar that never closes begins. */
function unterminatedQuote(text: string): { line: number; column: number; quote: string; start: string } | undefined {
  let offset = 0;
  let found: { offset: number; token: string } | undefined;
  for (const token of new Lexer().lex(text)) {
    if (LEXER_MARKERS.has(token)) continue;
    const quote = token[0];
    if ((quote === '"' || quote === "'") && !closes(token)) found ??= { offset, token };
    offset += token.length;
  }
  if (!found) return undefined;
  const before = text.slice(0, found.offset).split('\n');
  const start = found.token.split('\n')[0] ?? found.token;
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1, quote: found.token[0]!, start: escapeControlChars(start.length > 30 ? `${start.slice(0, 29)}…` : start) };
}

function closes(token: string): boolean {
  const body = token.trimEnd();
  if (body.length < 2 || body.at(-1) !== token[0]) return false;
  if (token[0] === "'") return (body.slice(1).match(/'+$/)?.[0].length ?? 0) % 2 === 1;
  return (body.slice(1, -1).match(/\\*$/)?.[0].length ?? 0) % 2 === 0;
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
