/** What the CLI writes to: stdout or stderr, or a stand-in with the same shape. */
export type Output = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number; rows?: number };

/** Colours only on a terminal, and never when NO_COLOR is set to anything but "" (no-color.org). */
export function colourOn(stream: Output): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

export const ANSI = {
  red: '31',
  green: '32',
  yellow: '33',
  magenta: '35',
  cyan: '36',
  grey: '90',
  bold: '1',
} as const;

export function colour(code: string | undefined, text: string, stream: Output): string {
  return code && colourOn(stream) ? `\u001b[${code}m${text}\u001b[0m` : text;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what an ANSI escape sequence starts with.
const ESCAPE = /\u001b\[[0-9;?]*[A-Za-z]/g;

export const visibleLength = (text: string): number => text.replace(ESCAPE, '').length;

/** Cuts a line to `width` visible characters, keeping escape sequences whole and closing an open colour. */
export function fitLine(line: string, width: number): string {
  if (visibleLength(line) <= width) return line;
  let out = '';
  let shown = 0;
  for (let i = 0; i < line.length; ) {
    ESCAPE.lastIndex = i;
    const sequence = line[i] === '\u001b' ? ESCAPE.exec(line) : null;
    if (sequence && sequence.index === i) {
      out += sequence[0];
      i += sequence[0].length;
      continue;
    }
    if (shown >= width - 1) break;
    out += line[i];
    shown += 1;
    i += 1;
  }
  return `${out}…${line.includes('\u001b[') ? '\u001b[0m' : ''}`;
}

/**
 * A block of lines redrawn in place on a terminal: each frame moves the cursor back to the block's first
 * line and overwrites it. Lines are cut to the terminal's width, because a wrapped line would throw the
 * count of lines to move back off, and the frame to its height, because the cursor cannot move above
 * the screen's top.
 */
export class LiveRegion {
  private drawnLines = 0;

  constructor(private readonly stream: Output) {}

  draw(lines: readonly string[]): void {
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    const height = Math.max(3, (this.stream.rows ?? 40) - 1);
    const shown = lines.length > height ? [...lines.slice(0, height - 1), `… ${lines.length - height + 1} more lines (a taller terminal shows them)`] : lines;
    // Cursor up (CUU) and carriage return, rather than CPL: every terminal and tmux know CUU.
    let out = this.drawnLines > 0 ? `\r\u001b[${this.drawnLines}A` : '\u001b[?25l';
    for (const line of shown) out += `${fitLine(line, width)}\u001b[K\n`;
    out += '\u001b[J';
    this.stream.write(out);
    this.drawnLines = shown.length;
  }

  /** Removes the block and shows the cursor again; the next writes start where the block began. */
  clear(): void {
    this.stream.write(`${this.drawnLines > 0 ? `\r\u001b[${this.drawnLines}A\u001b[J` : ''}\u001b[?25h`);
    this.drawnLines = 0;
  }

  /** Leaves the last frame on screen and shows the cursor again. */
  release(): void {
    this.stream.write('\u001b[?25h');
    this.drawnLines = 0;
  }
}
