import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { harnessJsonSchema, harnessJsonSchemaText } from '../../libs/shared/src/spec/harness-json-schema.js';

const committed = fileURLToPath(new URL('../../plugin/skills/reins-harness/harness.schema.json', import.meta.url));
const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));

describe('the committed JSON Schema of the harness', () => {
  it('is what the zod schema generates now (run `npm run schema` after changing spec/harness.ts)', async () => {
    expect(await readFile(committed, 'utf8'), 'plugin/skills/reins-harness/harness.schema.json is stale: run `npm run schema`').toBe(harnessJsonSchemaText());
  });

  it('accepts the examples and rejects what the zod schema rejects for its shape', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const check = ajv.compile(harnessJsonSchema());
    for (const name of ['hello.yaml', 'claude-team.yaml']) {
      const harness: unknown = parse(await readFile(example(name), 'utf8'));
      expect(check(harness), `${name}: ${JSON.stringify(check.errors)}`).toBe(true);
    }
    expect(check({ name: 'h', team: [{ name: 'a', promt: 'x' }] })).toBe(false);
    expect(check({ name: 'h', agent: { kind: 'claud' }, team: [{ name: 'a', prompt: 'x' }] })).toBe(false);
  });
});
