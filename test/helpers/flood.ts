import { readFileSync } from 'node:fs';

/** The last line a flood agent prints: what must survive every cap. */
export const FLOOD_RESULT = { type: 'result', subtype: 'success', is_error: false, result: 'flood done', num_turns: 1 } as const;

/**
 * A command agent that waits for `startGate` (when given), then prints `bytes` of valid stream-json
 * assistant lines as fast as it can, one line of 2 MiB without a break (it starts with `{`), and the result
 * line; then it writes `doneFile` (when given) and exits 0. Written with fs.writeSync, so nothing is
 * buffered in the agent: the worker sees the flood as it lands in stdout.jsonl.
 */
export function floodAgent(bytes: number, files: { startGate?: string; doneFile?: string } = {}): { kind: 'command'; argv: string[] } {
  const script = `const fs = require('node:fs');
    const [bytes, gate, done] = [Number(process.argv[1]), process.argv[2], process.argv[3]];
    const t = setInterval(() => {
      if (gate !== '-' && !fs.existsSync(gate)) return;
      clearInterval(t);
      const line = JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text: 'flooding ' + 'x'.repeat(60) }] } }) + '\\n';
      const block = Buffer.from(line.repeat(Math.ceil(65536 / line.length)));
      for (let written = 0; written < bytes; written += block.length) fs.writeSync(1, block);
      fs.writeSync(1, Buffer.alloc(2 * 1024 * 1024, '{'));
      fs.writeSync(1, '\\n' + ${JSON.stringify(JSON.stringify(FLOOD_RESULT))} + '\\n');
      if (done !== '-') fs.writeFileSync(done, '');
    }, 25);`;
  // A harness refuses an empty argument: "-" stands for none.
  return { kind: 'command', argv: [process.execPath, '-e', script, String(bytes), files.startGate ?? '-', files.doneFile ?? '-'] };
}

/** A quiet command agent: writes `startedFile`, waits for `gate`, prints one line and exits 0. */
export function quietAgent(startedFile: string, gate: string): { kind: 'command'; argv: string[] } {
  const script = `const fs = require('node:fs');
    fs.writeFileSync(process.argv[1], '');
    const t = setInterval(() => { if (fs.existsSync(process.argv[2])) { clearInterval(t); console.log('quiet done'); } }, 25);`;
  return { kind: 'command', argv: [process.execPath, '-e', script, startedFile, gate] };
}

/** A process's peak resident set (VmHWM in /proc/<pid>/status), in MiB; undefined once it is gone. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
