import { z } from 'zod';
import { HarnessSchema } from './harness.js';

/**
 * The harness format as JSON Schema (draft 2020-12), from the zod schema itself: what a person may write
 * (the input side, so defaulted fields are optional). Rules that span fields (a cycle, repo with workdir)
 * are not expressible there; `reins validate` checks those.
 */
export function harnessJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(HarnessSchema, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://github.com/reins/reins/plugin/skills/reins-harness/harness.schema.json',
    title: 'reins harness',
    description: 'A reins harness file (harness.yaml): a goal, a repository or workdir, and a team of Claude Code agents. Generated from libs/shared/src/spec/harness.ts by `npm run schema`; do not edit.',
  };
}

/** The committed file's text: two-space JSON and a final newline, so a stale file shows up as a diff. */
export const harnessJsonSchemaText = (): string => `${JSON.stringify(harnessJsonSchema(), null, 2)}\n`;
