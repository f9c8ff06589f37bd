import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Punching frees whole blocks only: the cut is rounded up to a block, so the kept part stays under the cap. */
const BLOCK_BYTES = 4096;

/**
 * Keeps an agent's output file (stdout.jsonl, stderr.log) under its size cap on disk, its newest bytes kept,
 * by punching a hole over everything before them (`fallocate --punch-hole`; ext4, xfs, btrfs and tmpfs
 * support it).
 *
 * Why a hole: the launcher writes the file through `>>`, an O_APPEND descriptor held by a bash script that
 * must outlive the worker, so renaming the file and reopening it under the writer is not possible. Copying
 * the tail and truncating loses what the agent writes between the two (the result line at the end is what
 * matters most), and piping the output through a rotating writer puts a process between the agent and its
 * output whose death ends the agent (SIGPIPE). A hole frees the oldest blocks in place: the writer goes on
 * appending at the end, the file's size and every offset stay as they were, nothing after the cut is
 * touched, and a reader that is still behind the cut reads zeros (the pane's `tail -f`) or jumps past it
 * (OutputReader.skipTo). The cut is written to `startFile`, so a worker that adopts the agent after a
 * restart starts reading where the kept part starts.
 */
export class OutputCap {
  /** Everything before it is a hole. */
  private start = 0;
  /** The file's size at the last enforce() (0 while it does not exist; undefined once the cap gave up). */
  size: number | undefined = 0;
  private punchFailed = false;

  constructor(
    private readonly file: string,
    private readonly maxBytes: number,
    private readonly startFile?: string,
  ) {}

  /** Where the kept part starts, as an earlier worker left it (0: nothing was cut). */
  async load(): Promise<number> {
    if (!this.startFile) return this.start;
    const text = await readFile(this.startFile, 'utf8').catch(() => '');
    if (/^\d+\n?$/.test(text)) this.start = Math.max(this.start, Number.parseInt(text, 10));
    return this.start;
  }

  /**
   * Cuts the file to its newest maxBytes once it is over them; returns where the kept part starts. Throws
   * once when the file system cannot punch holes; after that the file is left to grow.
   */
  async enforce(): Promise<number> {
    if (this.punchFailed) {
      this.size = undefined;
      return this.start;
    }
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    this.size = size;
    if (size - this.start <= this.maxBytes) return this.start;
    const cut = Math.ceil((size - this.maxBytes) / BLOCK_BYTES) * BLOCK_BYTES;
    const punched = await execa('fallocate', ['--punch-hole', '--offset', String(this.start), '--length', String(cut - this.start), this.file], { reject: false, stdin: 'ignore' });
    if (punched.exitCode !== 0) {
      this.punchFailed = true;
      throw new Error(`could not cap ${this.file} at ${this.maxBytes} bytes (fallocate --punch-hole: ${String(punched.stderr).trim() || `exit ${punched.exitCode}`}); it is left to grow`);
    }
    this.start = cut;
    if (this.startFile) {
      const tmp = `${this.startFile}.tmp`;
      await writeFile(tmp, `${cut}\n`);
      await rename(tmp, this.startFile);
    }
    return cut;
  }
}
