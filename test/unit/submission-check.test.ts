import { describe, expect, it } from 'vitest';
import { packFolder } from '../../libs/shared/src/runs/folder-pack.js';
import { MAX_SUBMISSION_TEXT_BYTES, checkSubmission } from '../../libs/shared/src/spec/submission.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/test-root.js';

// The one function both `reins submit` and the scheduler run on a run.submit payload: what it accepts and
// refuses here is what the scheduler accepts and refuses from a job that did not come through the CLI.

const caps = { skillMaxBytes: 2_000, runSkillsMaxBytes: 3_000 };
const payload = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  runId: 'r-abcdef12',
  source: '/h.yaml',
  spec: { name: 'h', agent: { kind: 'command', argv: ['true'] }, team: [{ name: 'a', prompt: 'p' }], ...spec },
  skills: {},
  submittedAt: 1,
  ...extra,
});

async function archive(bytes: number): Promise<Buffer> {
  const dir = tempDir('skill');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'SKILL.md'), 'x'.repeat(bytes));
  return packFolder(dir);
}

describe('checkSubmission', () => {
  it('accepts what reins submit sends, with its skills stored, and returns the parsed payload', async () => {
    const checked = await checkSubmission(payload({ team: [{ name: 'a', prompt: 'p', skills: ['notes'] }] }, { skills: { notes: 'd' } }), new Map([['notes', await archive(100)]]), caps);
    expect(checked.ok).toBe(true);
    if (checked.ok) expect(checked.data.spec.team?.[0]?.skills).toEqual(['notes']);
  });

  it('refuses a payload over its text cap with that one issue, before its shape is looked at', async () => {
    const checked = await checkSubmission({ ...payload({}), junk: 'j'.repeat(MAX_SUBMISSION_TEXT_BYTES) }, new Map(), caps);
    expect(checked).toEqual({ ok: false, issues: [{ path: 'junk', message: 'is 2 MiB (2097152 bytes) of text, over the cap of 2 MiB a whole harness may hold' }] });
  });

  it('names a control character once, in the spec or beside it', async () => {
    const checked = await checkSubmission(payload({ goal: 'g\x07' }, { source: 'a\x1bb' }), new Map(), caps);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.issues.map((i) => i.path)).toEqual(['source', 'spec.goal']);
  });

  it('refuses skills a member names that the payload does not carry, and carried skills with no archive', async () => {
    const checked = await checkSubmission(payload({ team: [{ name: 'a', prompt: 'p', skills: ['ghost'] }] }, { skills: { stored: 'd' } }), new Map(), caps);
    expect(checked).toEqual({
      ok: false,
      issues: [
        { path: 'spec.team[0].skills[0]', message: 'names the skill "ghost", which the submission does not carry' },
        { path: 'skill stored', message: 'is not stored with the run (reins submit stores every skill before the job)' },
      ],
    });
  });

  it('measures stored archives against the same caps as the folders, and refuses one that is not an archive', async () => {
    const checked = await checkSubmission(
      payload({}, { skills: { big: 'd', other: 'd', junk: 'd' } }),
      new Map([
        ['big', await archive(2_500)],
        ['other', await archive(1_000)],
        ['junk', Buffer.from('not a tar')],
      ]),
      caps,
    );
    expect(checked.ok).toBe(false);
    if (!checked.ok)
      expect(checked.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
        'skill junk: not a readable archive: TAR_BAD_ARCHIVE: Unrecognized archive format',
        'skill big: is 2.4 KiB (2500 bytes), over the cap of 2 KiB (2000 bytes) a skill (REINS_SKILL_MAX_BYTES)',
        "skills: the run's skills total 3.4 KiB (3500 bytes) (big 2.4 KiB, other 1000 B), over the cap of 2.9 KiB (3000 bytes) a run (REINS_RUN_SKILLS_MAX_BYTES)",
      ]);
  });
});
