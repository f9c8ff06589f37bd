import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, type StreamEvent } from '@reins/shared';
import { BATCH_MAX_EVENTS, OutputReader, READ_MAX_BYTES, READ_MAX_LINES, type OutputBatch } from '../../apps/worker/src/claude/stream-reader.js';
import { OutputCap } from '../../apps/worker/src/attempt/output-cap.js';
import { tempDir } from '../helpers/test-root.js';

const MIB = 1024 * 1024;
const RESULT = '{"type":"result","subtype":"success","is_error":false,"result":"the end"}';
/** About 400 bytes, as Claude Code's lines are: 4 MiB of them stay under READ_MAX_LINES. */
const assistantLine = (n: number) => JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: `line ${n} ${'.'.repeat(340)}` }] } });

/** Stream-json lines of about `bytes`, each an assistant message; returns how many. */
function writeLines(file: string, bytes: number, last = ''): number {
  const lines: string[] = [];
  let size = 0;
  for (let n = 0; size < bytes; n += 1) {
    const line = assistantLine(n);
    lines.push(line);
    size += line.length + 1;
  }
  writeFileSync(file, `${lines.join('\n')}\n${last}`);
  return lines.length;
}

const texts = (events: StreamEvent[]) => events.map((e) => (e.type === 'output' ? e.text : e.type === 'assistant' ? JSON.stringify(e.message.content) : e.type));

describe('OutputReader', () => {
  it('reads a flood a bounded slice per tick, keeps only the newest events of each, and counts every one', async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    const total = writeLines(file, 10 * MIB, RESULT);
    const reader = new OutputReader(file);
    let seen = 0;
    let last: StreamEvent | undefined;
    const batches: OutputBatch[] = [];
    let before = 0;
    for (;;) {
      const batch = await reader.read((event) => {
        seen += 1;
        last = event;
      });
      expect(reader.position - before).toBeLessThanOrEqual(READ_MAX_BYTES);
      before = reader.position;
      expect(batch.events.length).toBeLessThanOrEqual(BATCH_MAX_EVENTS);
      batches.push(batch);
      if (!batch.more) break;
    }
    await reader.close();
    expect(batches.length).toBe(3);
    expect(batches.slice(0, 2).every((b) => b.more && b.events.length === BATCH_MAX_EVENTS)).toBe(true);
    // The kept events are each batch's newest: the last batch ends with the flood's last line.
    expect(texts(batches[2]!.events).at(-1)).toContain(`line ${total - 1}`);
    const counted = batches.reduce((sum, b) => sum + b.count, 0);
    expect(counted).toBe(total);
    expect(batches.reduce((sum, b) => sum + b.turns, 0)).toBe(total);
    expect(seen).toBe(total);
    // Not final: the result line has no newline yet, and waits.
    expect(last?.type).toBe('assistant');
  });

  it('stops at about READ_MAX_LINES lines (at the end of the chunk that reaches it), however short they are', async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    // Lines that fail JSON.parse: the dearest kind.
    writeFileSync(file, '{x}\n'.repeat(100_000));
    const reader = new OutputReader(file);
    const counts: number[] = [];
    for (let more = true; more; ) {
      const batch = await reader.read();
      counts.push(batch.count);
      more = batch.more;
    }
    await reader.close();
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(100_000);
    for (const count of counts) expect(count).toBeLessThanOrEqual(READ_MAX_LINES + 64 * 1024);
    expect(counts.length).toBeGreaterThanOrEqual(4);
  });

  it('the final read takes the rest in bounded steps, a last line without a newline included', async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    const total = writeLines(file, 6 * MIB, RESULT);
    const reader = new OutputReader(file);
    const batches: OutputBatch[] = [];
    for (;;) {
      const batch = await reader.read(undefined, { final: true });
      batches.push(batch);
      if (!batch.more) break;
    }
    await reader.close();
    expect(batches.length).toBe(2);
    expect(batches.reduce((sum, b) => sum + b.count, 0)).toBe(total + 1);
    expect(batches[1]!.events.at(-1)).toMatchObject({ type: 'result', result: 'the end' });
  });

  it('cuts a line over MAX_LINE_BYTES and flags it with its length, then reads on', async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    const long = `{"type":"assistant","message":{"content":[{"type":"text","text":"${'x'.repeat(3 * MIB)}"}]}}`;
    writeFileSync(file, `${long}\n${RESULT}\n`);
    const reader = new OutputReader(file);
    const { events } = await reader.read(undefined, { final: true });
    await reader.close();
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ type: 'output' });
    expect(texts(events)[0]).toMatch(new RegExp(`^reins: a line of ${Buffer.byteLength(long)} bytes was cut to its first ${MAX_LINE_BYTES} and not read as stream-json: \\{"type":"assistant"`));
    expect(texts(events)[0]!.length).toBeLessThan(300);
    expect(events[1]).toMatchObject({ type: 'result' });
  });

  it("keeps reins' flags of older events when the batch keeps only the newest", async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    writeFileSync(file, `${'{'.repeat(2 * MIB)}\n${Array.from({ length: 1_000 }, (_, n) => `plain ${n}`).join('\n')}\n`);
    const reader = new OutputReader(file, { maxEvents: 3 });
    const batch = await reader.read(undefined, { final: true });
    await reader.close();
    expect(batch.count).toBe(1_001);
    expect(texts(batch.events)).toEqual([expect.stringMatching(/^reins: a line of 2097152 bytes was cut/), 'plain 997', 'plain 998', 'plain 999']);
  });

  it('jumps past a cut: says how much it skipped and starts again at the next whole line', async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    writeFileSync(file, 'first\nsecond line\nthird\n');
    const reader = new OutputReader(file, { maxBytes: 3 });
    expect(await reader.read()).toEqual({ events: [], count: 0, turns: 0, more: true }); // "fir", a partial line
    reader.skipTo(9); // inside "second line"
    const events: StreamEvent[] = [];
    for (let more = true; more; ) {
      const batch = await reader.read(undefined, { final: true });
      events.push(...batch.events);
      more = batch.more;
    }
    await reader.close();
    // "fir" held, 6 bytes jumped over, then "d line\n" up to the next newline: 3 + 6 + 9.
    expect(texts(events)).toEqual(['reins: 18 bytes of output were skipped: stdout.jsonl keeps only its newest part (REINS_OUTPUT_MAX_BYTES)', 'third']);
  });

  it('spares the read of a file whose just-measured size it has read up to, and reads what came after', async () => {
    const dir = tempDir('reader-size');
    const file = path.join(dir, 'stdout.jsonl');
    writeFileSync(file, `${assistantLine(1)}\n`);
    const reader = new OutputReader(file);
    const cap = new OutputCap(file, MIB);
    await cap.enforce();
    expect((await reader.read(undefined, { size: cap.size })).count).toBe(1);
    // Written after the size was measured: this tick does not see it, the next one does.
    writeFileSync(file, `${assistantLine(2)}\n`, { flag: 'a' });
    expect((await reader.read(undefined, { size: cap.size })).count).toBe(0);
    await cap.enforce();
    expect((await reader.read(undefined, { size: cap.size })).count).toBe(1);
    // The final read never trusts a size.
    writeFileSync(file, RESULT, { flag: 'a' });
    expect(texts((await reader.read(undefined, { size: cap.size, final: true })).events)).toEqual(['result']);
  });

  it('never jumps back', async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    writeFileSync(file, 'one\ntwo\n');
    const reader = new OutputReader(file);
    expect(texts((await reader.read()).events)).toEqual(['one', 'two']);
    reader.skipTo(4);
    expect((await reader.read(undefined, { final: true })).events).toEqual([]);
    await reader.close();
  });
});

/** Bytes the file takes on disk (st_blocks), what `du` counts. */
const diskBytes = (file: string) => statSync(file).blocks * 512;

describe('OutputCap', () => {
  it('punches out all but the newest bytes: the disk use falls under the cap, the size and the tail stay, the writer appends on', async () => {
    const dir = tempDir('output-cap');
    const file = path.join(dir, 'stdout.jsonl');
    const startFile = path.join(dir, 'stdout.start');
    // The launcher's `>>`: one O_APPEND descriptor, held across the cut.
    const fd = openSync(file, 'a');
    const total = 5 * MIB + 123;
    writeSync(fd, Buffer.alloc(total - RESULT.length - 1, 'a'));
    writeSync(fd, `${RESULT}\n`);
    const cap = new OutputCap(file, 1 * MIB, startFile);
    expect(await cap.enforce()).toBe(Math.ceil((total - MIB) / 4096) * 4096);
    expect(diskBytes(file)).toBeLessThanOrEqual(MIB);
    expect(statSync(file).size).toBe(total);
    const text = await readFile(file, 'latin1');
    expect(text.endsWith(`a${RESULT}\n`)).toBe(true);
    expect(text.charCodeAt(0)).toBe(0);
    expect(await readFile(startFile, 'utf8')).toBe(`${Math.ceil((total - MIB) / 4096) * 4096}\n`);
    // Under the cap: nothing to do.
    expect(await cap.enforce()).toBe(Math.ceil((total - MIB) / 4096) * 4096);

    writeSync(fd, Buffer.alloc(2 * MIB, 'b'));
    writeSync(fd, '\nnewest\n');
    closeSync(fd);
    const start = await cap.enforce();
    expect(statSync(file).size).toBe(total + 2 * MIB + 8);
    expect(diskBytes(file)).toBeLessThanOrEqual(MIB);
    expect((await readFile(file, 'latin1')).endsWith('bbb\nnewest\n')).toBe(true);

    // A worker that adopts the agent after a restart starts where the kept part starts.
    expect(await new OutputCap(file, MIB, startFile).load()).toBe(start);
    const reader = new OutputReader(file);
    reader.skipTo(start);
    const { events } = await reader.read(undefined, { final: true });
    await reader.close();
    expect(texts(events)).toEqual([expect.stringMatching(/^reins: \d+ bytes of output were skipped/), 'newest']);
  });

  it('says once when the file system cannot punch holes, then leaves the file be', async () => {
    const dir = tempDir('output-cap');
    const file = path.join(dir, 'stdout.jsonl');
    writeFileSync(file, Buffer.alloc(2 * MIB, 'a'));
    // A fallocate that fails as it does on a file system without hole punching.
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'fallocate'), '#!/bin/sh\necho "fallocate: fallocate failed: Operation not supported" >&2\nexit 1\n', { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      const cap = new OutputCap(file, MIB, path.join(dir, 'stdout.start'));
      await expect(cap.enforce()).rejects.toThrow(`could not cap ${file} at ${MIB} bytes (fallocate --punch-hole: fallocate: fallocate failed: Operation not supported); it is left to grow`);
      await expect(cap.enforce()).resolves.toBe(0);
      expect(existsSync(path.join(dir, 'stdout.start'))).toBe(false);
      // Its size is no longer measured, so a reader given it reads the file itself.
      expect(cap.size).toBeUndefined();
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
