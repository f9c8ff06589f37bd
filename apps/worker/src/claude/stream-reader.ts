import { open, type FileHandle } from 'node:fs/promises';
import { LineSplitter, MAX_LINE_BYTES, parseStreamLine, type SplitLine, type StreamEvent } from '@reins/shared';

const CHUNK_BYTES = 64 * 1024;
/**
 * The most output one read takes in (about 40 000 stream-json events); a flood is read over several ticks.
 * Reading all of it at once took a worker from 95 MB to 4.4 GB in 80 s under 200 MB of stream-json lines,
 * and it died with every agent on it.
 */
export const READ_MAX_BYTES = 4 * 1024 * 1024;
/**
 * The most lines one read goes through (it stops at the end of the 64 KiB chunk that reaches it). A line
 * that is not JSON costs up to ~6 µs (JSON.parse throws), so 4 MiB of short bad lines would cost seconds
 * of CPU a tick; honest stream-json lines are hundreds of bytes or more, and 4 MiB of them stay under it.
 */
export const READ_MAX_LINES = 25_000;
/** The newest events a batch keeps to report; the others are counted, seen once, and let go. */
export const BATCH_MAX_EVENTS = 200;

/** What one read brought in. */
export interface OutputBatch {
  /** The newest events read, at most `maxEvents`, after reins' flags of older ones (a line cut, output skipped). */
  events: StreamEvent[];
  /** Every event read, kept or not. */
  count: number;
  /** The assistant messages among them: Claude Code's turns. */
  turns: number;
  /** The read stopped at its byte or line cap: output is left for the next one. */
  more: boolean;
}

const note = (text: string): StreamEvent => ({ type: 'output', text: `reins: ${text}` });

/**
 * A stdout line as an event: stream-json, or the line itself as `output` (a command agent's `cat`, which
 * the board once showed as "no events yet"). A line over the cap is not parsed: it is flagged.
 */
function lineEvent(line: SplitLine): StreamEvent | undefined {
  if (line.cut) return note(`a line of ${line.bytes} bytes was cut to its first ${MAX_LINE_BYTES} and not read as stream-json: ${line.text.slice(0, 120)}`);
  const event = parseStreamLine(line.text);
  if (event) return event;
  const text = line.text.replace(/\r$/, '');
  return text.trim() ? { type: 'output', text } : undefined;
}

/**
 * Reads what was appended to an agent's stdout log since the last call, as whole lines: stream-json events
 * and plain output. Each read takes in at most `maxBytes` and about `maxLines` (in 64 KiB chunks, each
 * awaited, so the other agents' ticks run in between) and holds at most one partial line of at most
 * MAX_LINE_BYTES.
 */
export class OutputReader {
  private handle: FileHandle | undefined;
  private offset = 0;
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private readonly splitter = new LineSplitter();
  /** After a jump, the bytes up to the next newline are the end of a line whose start is gone. */
  private resyncing = false;
  private skippedBytes = 0;
  private readonly maxBytes: number;
  private readonly maxLines: number;
  private readonly maxEvents: number;

  constructor(
    private readonly file: string,
    limits: { maxBytes?: number; maxLines?: number; maxEvents?: number } = {},
  ) {
    this.maxBytes = limits.maxBytes ?? READ_MAX_BYTES;
    this.maxLines = limits.maxLines ?? READ_MAX_LINES;
    this.maxEvents = limits.maxEvents ?? BATCH_MAX_EVENTS;
  }

  /** Where the next read starts. */
  get position(): number {
    return this.offset;
  }

  /**
   * Jumps ahead to `offset` when the reader is behind it: what lies before was cut away (OutputCap). The
   * jump is reported as an output event by the next read.
   */
  skipTo(offset: number): void {
    if (offset <= this.offset) return;
    this.skippedBytes += offset - this.offset + this.splitter.reset();
    this.offset = offset;
    this.resyncing = true;
  }

  /**
   * The output appended since the last read, up to the byte and line caps. `onEvent` sees every event,
   * kept in the batch or not. `final` (the writer is gone): once the end is reached, a last line without a
   * newline counts too. `size`, when the caller has just measured the file, spares the read of a file
   * that has not grown.
   */
  async read(onEvent?: (event: StreamEvent) => void, { final = false, size }: { final?: boolean; size?: number } = {}): Promise<OutputBatch> {
    const batch: OutputBatch = { events: [], count: 0, turns: 0, more: false };
    // The file's size, just measured, says nothing new is there: no read (a quiet agent's tick).
    if (!final && size !== undefined && size <= this.offset) return batch;
    // The newest events, and reins' own flags (a cut line, a skipped part: a few per read at most), which
    // are kept however many events come after them.
    let window: { seq: number; event: StreamEvent }[] = [];
    const flags: { seq: number; event: StreamEvent }[] = [];
    const add = (event: StreamEvent, flag = false) => {
      onEvent?.(event);
      const seq = batch.count;
      batch.count += 1;
      if (event.type === 'assistant') batch.turns += 1;
      if (flag) flags.push({ seq, event });
      window.push({ seq, event });
      // Trimmed now and then, not per event: amortised constant time.
      if (window.length >= 2 * this.maxEvents) window = window.slice(-this.maxEvents);
    };
    if (!this.handle) {
      try {
        this.handle = await open(this.file, 'r');
      } catch {
        return batch; // not created yet
      }
    }
    let readBytes = 0;
    let lines = 0;
    while (readBytes < this.maxBytes && lines < this.maxLines) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, Math.min(CHUNK_BYTES, this.maxBytes - readBytes), this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      readBytes += bytesRead;
      let chunk = this.buffer.subarray(0, bytesRead);
      if (this.resyncing) {
        const newline = chunk.indexOf(10);
        this.skippedBytes += newline === -1 ? chunk.length : newline + 1;
        if (newline === -1) continue;
        chunk = chunk.subarray(newline + 1);
        this.resyncing = false;
      }
      if (this.skippedBytes > 0 && !this.resyncing) add(this.takeSkipNote(), true);
      for (const line of this.splitter.push(chunk)) {
        lines += 1;
        const event = lineEvent(line);
        if (event) add(event, line.cut);
      }
    }
    batch.more = readBytes >= this.maxBytes || lines >= this.maxLines;
    if (final && !batch.more) {
      if (this.skippedBytes > 0) add(this.takeSkipNote(), true);
      for (const line of this.splitter.flush()) {
        const event = lineEvent(line);
        if (event) add(event, line.cut);
      }
    }
    window = window.slice(-this.maxEvents);
    const windowStart = window[0]?.seq ?? batch.count;
    batch.events = [...flags.filter((f) => f.seq < windowStart), ...window].map((e) => e.event);
    return batch;
  }

  private takeSkipNote(): StreamEvent {
    const skipped = this.skippedBytes;
    this.skippedBytes = 0;
    return note(`${skipped} bytes of output were skipped: stdout.jsonl keeps only its newest part (REINS_OUTPUT_MAX_BYTES)`);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}
