import { MAX_REPORTED_ISSUES, escapeControlChars, isSpecError, loadConfig, loadHarnessFile, packSkills, redactRepoUrl, requireSubmission, submissionOf, terminalJson, type InputIssue } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { help } from './submit.js';

export const VALIDATE_HELP = `Usage: reins validate FILE [--json]

Checks a harness file as reins submit does (its shape, the team's dependencies, skills and their sizes,
the workdir, and the repo's ref with git ls-remote), without Redis, and reports every problem at once,
with the nearest name for a misspelt field, member or skill (at most 20 printed, then how many more).
Exit 0 when it is clean, 2 when it is not.
  --json   print {ok, issues: [{path, message, suggestion?}], more?}: at most ${MAX_REPORTED_ISSUES} issues, and how many more`;

/** Stands for the run id submit would draw; the payload is checked, never sent. */
const VALIDATE_RUN_ID = 'r-validate';

type Loaded = Awaited<ReturnType<typeof loadHarnessFile>>;

export async function validate(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('validate', argv, { json: { type: 'boolean' } }, { min: 1, max: 1, names: 'one harness FILE' });
  if (values.help) return help(VALIDATE_HELP);
  const file = positionals[0]!;
  const config = loadConfig(process.env, flagOverrides(values));
  let summary: string;
  try {
    const harness = await loadHarnessFile(file, { skillsDirs: [config.skillsDir] });
    // Every check of submit: the skills packed (their caps and links), then the payload as the scheduler sees it.
    const packed = await packSkills(harness.source, harness.skills, config);
    await requireSubmission(harness.source, submissionOf(harness, VALIDATE_RUN_ID).data, packed, config);
    summary = summarise(harness);
  } catch (error) {
    if (!isSpecError(error)) throw error;
    const { issues } = error;
    const more = issues.length > MAX_REPORTED_ISSUES ? { more: issues.length - MAX_REPORTED_ISSUES } : {};
    if (values.json) console.log(terminalJson({ ok: false, issues: issues.slice(0, MAX_REPORTED_ISSUES).map(jsonIssue), ...more }));
    else console.error(escapeControlChars(error.message));
    return EXIT.invalid;
  }
  console.log(values.json ? terminalJson({ ok: true, issues: [], summary }) : escapeControlChars(`ok  ${summary}`));
  return EXIT.ok;
}

const jsonIssue = ({ path, message, suggestion }: InputIssue): InputIssue => ({ path, message, ...(suggestion ? { suggestion } : {}) });

/** One line: the name, the team in file order with what each waits for, the skills, where the work happens. */
function summarise({ spec, skills, workdir, baseCommit }: Loaded): string {
  const team =
    spec.plan === 'auto'
      ? `plan: auto (the planner picks a team, from ${Object.keys(skills).length} skills)`
      : `${spec.team!.length} member${spec.team!.length === 1 ? '' : 's'}: ${spec.team!.map((m) => (m.depends_on?.length ? `${m.name} (after ${m.depends_on.join(', ')})` : m.name)).join(', ')}`;
  const names = spec.plan === 'auto' ? [] : Object.keys(skills).sort();
  const where = spec.repo ? `; repo ${redactRepoUrl(spec.repo.url)}${spec.repo.ref ? `@${spec.repo.ref}` : ''}${baseCommit ? ` (${baseCommit.slice(0, 12)})` : ''}` : workdir ? `; workdir ${workdir}` : '';
  return `${spec.name}: ${team}; agent ${spec.agent.kind}${names.length ? `; skills ${names.join(', ')}` : ''}${where}`;
}
