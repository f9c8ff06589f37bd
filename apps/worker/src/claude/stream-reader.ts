import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { LineSplitter, parseStreamLine, type StreamEvent } from '@reins/shared';

const CHUNK_BYTES = 64 * 1024;

/**
 * A stdout line as an event: stream-json, or the line itself as `output` (a command agent's `cat`, which
 * the board once showed as "no events yet").
 */
function lineEvent(line: string): StreamEvent | undefined {
  const event = parseStreamLine(line);
  if (event) return event;
  const text = line.replace(/\r$/, '');
  return text.trim() ? { type: 'output', text } : undefined;
}

/** Reads only what was appended to an agent's stdout log since the last call, as whole lines: stream-json events and plain output. */
export class OutputReader {
  private handle: FileHandle | undefined;
  private offset = 0;
  private readonly decoder = new StringDecoder('utf8');
  private readonly splitter = new LineSplitter();

  constructor(private readonly file: string) {}

  async readNew(): Promise<StreamEvent[]> {
    if (!this.handle) {
      try {
        this.handle = await open(this.file, 'r');
      } catch {
        return []; // not created yet
      }
    }
    const events: StreamEvent[] = [];
    const buffer = Buffer.alloc(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, CHUNK_BYTES, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      for (const line of this.splitter.push(this.decoder.write(buffer.subarray(0, bytesRead)))) {
        const event = lineEvent(line);
        if (event) events.push(event);
      }
    }
    return events;
  }

  /** The last read, once the writer is gone: includes a final line without a newline. */
  async readRest(): Promise<StreamEvent[]> {
    const events = await this.readNew();
    for (const line of this.splitter.push(this.decoder.end())) {
      const event = lineEvent(line);
      if (event) events.push(event);
    }
    for (const line of this.splitter.flush()) {
      const event = lineEvent(line);
      if (event) events.push(event);
    }
    return events;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}
