import { z } from 'zod';
import { formatPath, showValue } from '../errors/format.js';
import type { InputIssue } from '../errors/issue.js';
import { MemberSchema, TeamSchema, teamGraphIssues, type Member } from './harness.js';
import { inputBoundIssues } from './input-bounds.js';

/** The member name the planner runs under; a leading "_" is outside the names a harness may use. */
export const PLANNER_MEMBER = '_planner';

/**
 * A planned member is a hand-written member with its role, dependencies and skills spelled out, and no
 * agent of its own (members use the harness's agent).
 */
export const PlannedMemberSchema = MemberSchema.omit({ agent: true, requires: true }).extend({
  role: z.string().min(1).max(200),
  depends_on: MemberSchema.shape.depends_on.unwrap(),
  skills: MemberSchema.shape.skills.unwrap(),
});

export const PlanSchema = z.strictObject({
  team: z.array(PlannedMemberSchema).min(2, 'expected at least 2 members').max(8, 'expected at most 8 members'),
});

export type Plan = z.infer<typeof PlanSchema>;

/** For `claude --json-schema`: the CLI offers the model a StructuredOutput tool with this schema. */
export function planJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PlanSchema, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
}

export type PlanCheck = { ok: true; team: Member[] } | { ok: false; issues: InputIssue[] };

/**
 * Checks a planner's answer exactly as a hand-written team is checked (schema, names, dependencies,
 * cycles), and that it only names skills that exist.
 */
export function checkPlan(value: unknown, availableSkills: readonly string[]): PlanCheck {
  // The bounds of a harness too: a planned prompt with a NUL would fail at the worker after every attempt.
  const bounds = inputBoundIssues(value);
  const boundIssues = bounds.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  if (bounds.fatal) return { ok: false, issues: boundIssues };
  const parsed = PlanSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const shape = parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: `${i.message}${'input' in i && i.code !== 'unrecognized_keys' ? `, got ${showValue(i.input)}` : ''}` }));
    return { ok: false, issues: [...boundIssues, ...shape] };
  }
  const team = parsed.data.team as Member[];
  const issues: InputIssue[] = [...boundIssues, ...teamGraphIssues(team).map((i) => ({ path: formatPath(i.path), message: i.message }))];
  if (!TeamSchema.safeParse(team).success) issues.push({ path: 'team', message: 'is not a valid team' });
  const known = new Set(availableSkills);
  team.forEach((member, i) =>
    (member.skills ?? []).forEach((skill, j) => {
      if (!known.has(skill)) issues.push({ path: `team[${i}].skills[${j}]`, message: `unknown skill "${skill}" (available: ${[...known].sort().join(', ') || 'none'})` });
    }),
  );
  return issues.length > 0 ? { ok: false, issues } : { ok: true, team };
}

/** The planner's task: the goal, the skills it may hand out, and the shape of the answer. */
export function planningPrompt(goal: string, skills: readonly { name: string; description: string }[]): string {
  return [
    'You are the planner of a reins team: Claude Code agents that will work on the goal below, unattended, each in its own',
    'copy of the working directory (a git branch each when it is a repository), in dependency order, then merged.',
    '',
    `The goal: ${goal}`,
    '',
    'Look at the working directory first to understand the project. Then design a team of 2 to 8 members. For each member give:',
    '- name: lowercase letters, digits and "-" (unique);',
    '- role: what the member is for, in a few words;',
    "- prompt: complete, self-contained instructions (the member sees only this, its teammates' names, and the goal);",
    '- depends_on: the members whose work must be finished before this one starts (no cycles);',
    '- skills: chosen only from the list below (may be empty);',
    '- verify (optional): {"commands": [["npm","test"]]}, commands that must pass in the member\'s workspace before it is done.',
    'Prefer few members with clear, non-overlapping files. Give parallel work no dependencies.',
    '',
    'Skills you may hand out:',
    ...(skills.length > 0 ? skills.map((s) => `- ${s.name}: ${s.description}`) : ['(none)']),
    '',
    'Answer with the StructuredOutput tool: {"team": [...]}.',
  ].join('\n');
}

/** The follow-up when an answer did not pass: the issues, one per line. */
export function planRetryPrompt(issues: readonly InputIssue[]): string {
  return ['That team is not valid:', ...issues.map((i) => `- ${i.path}: ${i.message}`), 'Fix every issue and answer again with the StructuredOutput tool, the whole team.'].join('\n');
}
