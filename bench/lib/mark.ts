import { readFile } from 'node:fs/promises';

/**
 * The agent is `sh -c 'date +%s%N > MARK'`: the moment its process runs, in the same clock as the bench.
 * "$1" carries the path, so nothing is quoted into shell code.
 */
export const markArgv = (mark: string) => ['sh', '-c', 'date +%s%N > "$1"', 'sh', mark];

export async function readMarkMs(mark: string): Promise<number | undefined> {
  const text = (await readFile(mark, 'utf8').catch(() => '')).trim();
  // Nanoseconds overflow a double; microseconds do not.
  return /^\d{19}$/.test(text) ? Number(BigInt(text) / 1_000n) / 1_000 : undefined;
}
