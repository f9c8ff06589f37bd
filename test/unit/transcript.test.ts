import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { findTranscript, packTranscript, resumeDir, unpackTranscript } from '../../apps/worker/src/claude/transcript.js';

const SESSION = '11111111-2222-4333-8444-555555555555';

let root: string;
let n = 0;
const fresh = async (name: string) => {
  const dir = path.join(root, `${name}-${++n}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

/** A JSONL transcript with text that compresses well, plus bytes that are not valid UTF-8. */
function transcriptBytes(lines = 200): Buffer {
  const text = Array.from({ length: lines }, (_, i) => JSON.stringify({ type: 'assistant', i, text: `line ${i} — ünïcode 🌍 "quotes" \\ back\ttab` })).join('\n');
  return Buffer.concat([Buffer.from(`${text}\n`, 'utf8'), Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a])]);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'reins-unit-transcript-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('packTranscript / unpackTranscript', () => {
  it('round-trips a transcript byte for byte into <home>/.claude/reins-resume/<session>.jsonl', async () => {
    const dir = await fresh('pack');
    const raw = transcriptBytes();
    const file = path.join(dir, 'source.jsonl');
    await writeFile(file, raw);

    const packed = await packTranscript(file, 1024 * 1024);
    expect(packed.transcriptBytes).toBe(raw.length);
    expect(packed.transcriptOmitted).toBeUndefined();
    expect(Buffer.isBuffer(packed.transcriptGz)).toBe(true);
    expect(packed.transcriptGz!.length).toBeLessThan(raw.length);
    expect(gunzipSync(packed.transcriptGz!).equals(raw)).toBe(true);

    const home = path.join(dir, 'home');
    const out = await unpackTranscript(home, SESSION, packed.transcriptGz!);
    expect(out).toBe(path.join(home, '.claude', 'reins-resume', `${SESSION}.jsonl`));
    expect(out).toBe(path.join(resumeDir(home), `${SESSION}.jsonl`));
    expect((await readFile(out)).equals(raw)).toBe(true);
  });

  it('round-trips an empty transcript', async () => {
    const dir = await fresh('empty');
    const file = path.join(dir, 'empty.jsonl');
    await writeFile(file, '');
    const packed = await packTranscript(file, 1024);
    expect(packed.transcriptBytes).toBe(0);
    const out = await unpackTranscript(path.join(dir, 'home'), SESSION, packed.transcriptGz!);
    expect((await readFile(out)).length).toBe(0);
  });

  it('round-trips incompressible data', async () => {
    const dir = await fresh('random');
    const raw = randomBytes(64 * 1024);
    const file = path.join(dir, 'random.jsonl');
    await writeFile(file, raw);
    const packed = await packTranscript(file, 1024 * 1024);
    const out = await unpackTranscript(path.join(dir, 'home'), SESSION, packed.transcriptGz!);
    expect((await readFile(out)).equals(raw)).toBe(true);
  });

  it('leaves the transcript out over the cap, saying both sizes, with no transcriptGz', async () => {
    const dir = await fresh('cap');
    const raw = transcriptBytes();
    const file = path.join(dir, 'big.jsonl');
    await writeFile(file, raw);
    const gzBytes = gzipSync(raw, { level: 6 }).length;

    const packed = await packTranscript(file, 100);
    expect(packed).toEqual({
      transcriptBytes: raw.length,
      transcriptOmitted: `compressed transcript is ${gzBytes} bytes, over the 100-byte cap`,
    });
    expect('transcriptGz' in packed).toBe(false);
  });

  it('keeps a transcript exactly at the cap and drops one a byte over', async () => {
    const dir = await fresh('edge');
    const raw = transcriptBytes(50);
    const file = path.join(dir, 'edge.jsonl');
    await writeFile(file, raw);
    const gzBytes = gzipSync(raw, { level: 6 }).length;

    const at = await packTranscript(file, gzBytes);
    expect(at.transcriptGz?.length).toBe(gzBytes);
    expect(at.transcriptOmitted).toBeUndefined();

    const over = await packTranscript(file, gzBytes - 1);
    expect(over.transcriptGz).toBeUndefined();
    expect(over.transcriptOmitted).toBe(`compressed transcript is ${gzBytes} bytes, over the ${gzBytes - 1}-byte cap`);
  });

  it('leaves every transcript out with a cap of 0', async () => {
    const dir = await fresh('zero');
    const file = path.join(dir, 'z.jsonl');
    await writeFile(file, '{}\n');
    const packed = await packTranscript(file, 0);
    expect(packed.transcriptGz).toBeUndefined();
    expect(packed.transcriptBytes).toBe(3);
    expect(packed.transcriptOmitted).toMatch(/over the 0-byte cap$/);
  });

  it('rejects a missing transcript file', async () => {
    await expect(packTranscript(path.join(root, 'no-such.jsonl'), 1024)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('replaces a longer file already at the resume path', async () => {
    const dir = await fresh('replace');
    const home = path.join(dir, 'home');
    await mkdir(resumeDir(home), { recursive: true });
    await writeFile(path.join(resumeDir(home), `${SESSION}.jsonl`), 'x'.repeat(10_000));
    const out = await unpackTranscript(home, SESSION, gzipSync(Buffer.from('short\n')));
    expect(await readFile(out, 'utf8')).toBe('short\n');
  });

  it('rejects data that is not gzip', async () => {
    const dir = await fresh('bad-gz');
    await expect(unpackTranscript(path.join(dir, 'home'), SESSION, Buffer.from('not gzip'))).rejects.toThrow();
  });
});

describe('findTranscript', () => {
  async function put(file: string, bytes: number): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'x'.repeat(bytes));
  }

  it('is undefined when the home does not exist', async () => {
    expect(await findTranscript(path.join(root, 'no-home'), SESSION)).toBeUndefined();
  });

  it('is undefined when no file of that session exists', async () => {
    const home = await fresh('none');
    await put(path.join(home, '.claude', 'projects', '-work-a', 'other-session.jsonl'), 10);
    await put(path.join(resumeDir(home), 'other-session.jsonl'), 10);
    await mkdir(path.join(home, '.claude', 'projects', '-work-b'), { recursive: true });
    expect(await findTranscript(home, SESSION)).toBeUndefined();
  });

  it('finds the session under any project folder, with its size', async () => {
    const home = await fresh('projects');
    const file = path.join(home, '.claude', 'projects', '-data-worktrees-r-abc-a', `${SESSION}.jsonl`);
    await put(path.join(home, '.claude', 'projects', '-elsewhere', 'x.jsonl'), 5);
    await put(file, 42);
    expect(await findTranscript(home, SESSION)).toEqual({ file, bytes: 42 });
  });

  it('finds the session in reins-resume when it is only there', async () => {
    const home = await fresh('resume-only');
    const file = path.join(resumeDir(home), `${SESSION}.jsonl`);
    await put(file, 7);
    expect(await findTranscript(home, SESSION)).toEqual({ file, bytes: 7 });
  });

  it('prefers the larger of the project file and the reins-resume file', async () => {
    const home = await fresh('both');
    const project = path.join(home, '.claude', 'projects', '-ws', `${SESSION}.jsonl`);
    const resume = path.join(resumeDir(home), `${SESSION}.jsonl`);
    await put(project, 100);
    await put(resume, 50);
    expect(await findTranscript(home, SESSION)).toEqual({ file: project, bytes: 100 });
    await put(resume, 150);
    expect(await findTranscript(home, SESSION)).toEqual({ file: resume, bytes: 150 });
  });

  it('picks the largest among several project folders', async () => {
    const home = await fresh('several');
    const projects = path.join(home, '.claude', 'projects');
    await put(path.join(projects, '-a', `${SESSION}.jsonl`), 10);
    await put(path.join(projects, '-b', `${SESSION}.jsonl`), 30);
    await put(path.join(projects, '-c', `${SESSION}.jsonl`), 20);
    expect(await findTranscript(home, SESSION)).toEqual({ file: path.join(projects, '-b', `${SESSION}.jsonl`), bytes: 30 });
  });

  it('finds an empty transcript (0 bytes)', async () => {
    const home = await fresh('empty-file');
    const file = path.join(home, '.claude', 'projects', '-ws', `${SESSION}.jsonl`);
    await put(file, 0);
    expect(await findTranscript(home, SESSION)).toEqual({ file, bytes: 0 });
  });

  it('ignores a directory named like the transcript, and stray files in projects/', async () => {
    const home = await fresh('dir-named');
    const projects = path.join(home, '.claude', 'projects');
    await mkdir(path.join(projects, '-ws', `${SESSION}.jsonl`), { recursive: true });
    await put(path.join(projects, 'stray-file'), 3);
    expect(await findTranscript(home, SESSION)).toBeUndefined();
    expect((await stat(path.join(projects, '-ws', `${SESSION}.jsonl`))).isDirectory()).toBe(true);
  });

  it('does not match a different session id that shares a prefix', async () => {
    const home = await fresh('prefix');
    await put(path.join(home, '.claude', 'projects', '-ws', `${SESSION}0.jsonl`), 10);
    await put(path.join(home, '.claude', 'projects', '-ws', `${SESSION}.jsonl.bak`), 10);
    expect(await findTranscript(home, SESSION)).toBeUndefined();
  });
});
