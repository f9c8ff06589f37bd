// Writes plugin/skills/reins-harness/harness.schema.json from the zod schema (`npm run schema`);
// test/unit/harness-json-schema.test.ts fails when the committed file is stale.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { harnessJsonSchemaText } from '../libs/shared/src/spec/harness-json-schema.js';

const target = fileURLToPath(new URL('../plugin/skills/reins-harness/harness.schema.json', import.meta.url));
await writeFile(target, harnessJsonSchemaText());
console.log(`wrote ${target}`);
