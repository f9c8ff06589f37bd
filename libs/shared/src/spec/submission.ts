import { issuesFromZod, type InputIssue } from '../errors/issue.js';
import { formatPath } from '../errors/format.js';
import { SpecError } from '../errors/spec-error.js';
import { RunSubmitDataSchema, type ParsedJobData, type RunSubmitData } from '../jobs/catalogue.js';
import { checkArchive, isUnsafeArchiveError } from '../runs/folder-pack.js';
import { separateSecrets, type RunSecretValues } from '../runs/run-secrets.js';
import { MAX_HARNESS_BYTES, inputBoundIssues } from './input-bounds.js';
import type { ResolvedHarness } from './load.js';
import { skillCapIssues, type SkillCaps } from './skill-bundle.js';

/** A run.submit payload holds its harness and, beside it, its skills' names and descriptions (up to 1 KiB each). */
export const MAX_SUBMISSION_TEXT_BYTES = 2 * MAX_HARNESS_BYTES;

/**
 * The run.submit payload for a harness that passed loadHarnessFile, and the agent.env values that travel
 * apart from it (RunSecrets): the payload's spec carries their names only, as Bull Board may show it.
 */
export function submissionOf(harness: ResolvedHarness, runId: string, options: { planOnly?: boolean; submittedAt?: number } = {}): { data: RunSubmitData; secrets: RunSecretValues } {
  const { spec, secrets } = separateSecrets(harness.spec);
  const data: RunSubmitData = {
    runId,
    source: harness.source,
    spec,
    ...(harness.workdir ? { workdir: harness.workdir } : {}),
    skills: Object.fromEntries(Object.values(harness.skills).map((skill) => [skill.name, skill.description])),
    ...(harness.baseCommit ? { baseCommit: harness.baseCommit } : {}),
    ...(options.planOnly ? { planOnly: true } : {}),
    submittedAt: options.submittedAt ?? Date.now(),
  };
  return { data, secrets };
}

export type SubmissionCheck = { ok: true; data: ParsedJobData<'run.submit'> } | { ok: false; issues: InputIssue[] };

/**
 * Every check a run.submit must pass, in one place: `reins submit` runs it before anything reaches Redis,
 * and the scheduler on every submission it takes, so a job put on the control queue some other way (Bull
 * Board, a script with Redis access) meets exactly the same bounds. It needs nothing of the submitter's
 * disk: the payload, and the run's skills as the packed archives (name → gzipped tar) stored beside it.
 */
export async function checkSubmission(data: unknown, archives: ReadonlyMap<string, Buffer>, caps: SkillCaps): Promise<SubmissionCheck> {
  const bounds = inputBoundIssues(data, MAX_SUBMISSION_TEXT_BYTES);
  const boundIssues = bounds.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  if (bounds.fatal) return { ok: false, issues: boundIssues };
  const parsed = RunSubmitDataSchema.safeParse(data, { reportInput: true });
  // The spec's own control characters are found twice, by the walk and by HarnessSchema: say each once.
  const seen = new Set<string>();
  const issues = [...boundIssues, ...(parsed.success ? [] : issuesFromZod(parsed.error, data, RunSubmitDataSchema))].filter((i) => {
    const key = `${i.path}\n${i.message}`;
    return !seen.has(key) && seen.add(key);
  });
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  const skillIssues = await archiveIssues(parsed.data, archives, caps);
  return skillIssues.length > 0 ? { ok: false, issues: skillIssues } : { ok: true, data: parsed.data };
}

/** Each skill the run names is stored, safe to unpack, and within the caps; each member's skill is one the run names. */
async function archiveIssues(data: ParsedJobData<'run.submit'>, archives: ReadonlyMap<string, Buffer>, caps: SkillCaps): Promise<InputIssue[]> {
  const issues: InputIssue[] = [];
  (data.spec.team ?? []).forEach((member, i) => {
    (member.skills ?? []).forEach((name, j) => {
      if (data.skills[name] === undefined) issues.push({ path: `spec.team[${i}].skills[${j}]`, message: `names the skill "${name}", which the submission does not carry` });
    });
  });
  const sizes = new Map<string, number>();
  for (const name of Object.keys(data.skills)) {
    const archive = archives.get(name);
    if (!archive) {
      issues.push({ path: `skill ${name}`, message: 'is not stored with the run (reins submit stores every skill before the job)' });
      continue;
    }
    try {
      sizes.set(name, (await checkArchive(archive)).bytes);
    } catch (error) {
      if (!isUnsafeArchiveError(error)) throw error;
      issues.push({ path: `skill ${name}`, message: error.message });
    }
  }
  return [...issues, ...skillCapIssues(sizes, caps)];
}

/** checkSubmission for `reins submit` and `reins validate`: the payload checked, or a SpecError naming every issue. */
export async function requireSubmission(source: string, data: RunSubmitData, archives: ReadonlyMap<string, Buffer>, caps: SkillCaps): Promise<ParsedJobData<'run.submit'>> {
  const checked = await checkSubmission(data, archives, caps);
  if (!checked.ok) throw new SpecError(source, checked.issues);
  return checked.data;
}
