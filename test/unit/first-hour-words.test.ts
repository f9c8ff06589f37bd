import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeEvent, formatCostUsd, summaryLines, totalCostUsd } from '@reins/shared';
import { rewriteBullBoardHtml } from '../../apps/board/src/bull-board.js';
import { OutputReader } from '../../apps/worker/src/claude/stream-reader.js';
import { tempDir } from '../helpers/test-root.js';

describe('the words of the first hour', () => {
  it('a run without costs reads as missing, like its members, not $0.0000', () => {
    expect(formatCostUsd(totalCostUsd([{}, { costUsd: undefined }]))).toBe('-');
    expect(formatCostUsd(totalCostUsd([{ costUsd: 0.01 }, {}, { costUsd: 0.0025 }]))).toBe('$0.0125');
  });

  it('a summary is its last few non-empty lines, marked when cut', () => {
    expect(summaryLines('Hello, world!\nBonjour, le monde !\n')).toEqual(['Hello, world!', 'Bonjour, le monde !']);
    expect(summaryLines('1\n2\n\n3\n4\n5\n6', 3)).toEqual(['…', '4', '5', '6']);
    expect(summaryLines('x'.repeat(300), 5, 10)).toEqual([`${'x'.repeat(9)}…`]);
  });

  it("reads a command agent's plain lines as output events beside stream-json", async () => {
    const file = path.join(tempDir('output-reader'), 'stdout.jsonl');
    writeFileSync(file, 'Hello, world!\n{"type":"result","subtype":"success","is_error":false,"result":"ok"}\n\nBonjour');
    const reader = new OutputReader(file);
    const { events } = await reader.read(undefined, { final: true });
    await reader.close();
    expect(events.map((e) => e.type)).toEqual(['output', 'result', 'output']);
    expect(events.flatMap(describeEvent)).toEqual([
      { kind: 'output', text: 'Hello, world!' },
      { kind: 'result', text: 'success: ok' },
      { kind: 'output', text: 'Bonjour' },
    ]);
  });

  it("serves Bull Board's page without outside assets and with a link back to the runs", () => {
    const page =
      '<!DOCTYPE html><html><head><link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">\n<link href="static/css/main.css" rel="stylesheet"></head><body><div id="root"></div></body></html>';
    const served = rewriteBullBoardHtml(page);
    expect(served).not.toContain('googleapis');
    expect(served).toContain('<link href="static/css/main.css" rel="stylesheet">');
    expect(served).toMatch(/<a href="\/runs" id="reins-runs-link"[^>]*>← reins runs<\/a><\/body>/);
  });
});
