/**
 * Proves the fake Messages API in test/helpers/messages-api.ts against the real
 * Claude Code CLI: if these pass, tests built on the helper exercise what the
 * CLI really does, not what we assume it does.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { claudeEnv, lastToolResults, scripted, startMessagesApi, toolResultText, type MessagesApi, type Reply } from '../helpers/messages-api.js';

const CLAUDE_BIN = fileURLToPath(new URL('../../node_modules/.bin/claude', import.meta.url));
const RUN_TIMEOUT_MS = 30_000;

interface StreamLine {
  type: string;
  subtype?: string;
  [key: string]: unknown;
}

interface ClaudeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: StreamLine[];
  stderr: string;
  /** The final `type:"result"` line; the CLI always ends a -p run with one. */
  result: StreamLine | undefined;
}

/** Runs `claude -p` to completion, killing it if it outlives RUN_TIMEOUT_MS. */
function runClaude(args: string[], cwd: string, env: Record<string, string>): Promise<ClaudeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      CLAUDE_BIN,
      [...args, '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'],
      // stdin is closed so the CLI never waits for piped input.
      { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const lines = stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as StreamLine);
      resolve({ code, signal, lines, stderr, result: lines.filter((l) => l.type === 'result').pop() });
    });
  });
}

describe('fake Messages API with the real claude CLI', () => {
  let api: MessagesApi | undefined;
  let tempDir: string | undefined;

  afterEach(async () => {
    await api?.close();
    api = undefined;
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  });

  /** A fresh temp dir holding a private HOME and a workspace to run in. */
  async function setup(script: (workspace: string) => Reply[]): Promise<{ api: MessagesApi; home: string; workspace: string }> {
    tempDir = await mkdtemp(join(tmpdir(), 'reins-messages-api-'));
    const home = join(tempDir, 'home');
    const workspace = join(tempDir, 'workspace');
    await Promise.all([mkdir(home), mkdir(workspace)]);
    api = await startMessagesApi({ handler: scripted(script(workspace)) });
    return { api, home, workspace };
  }

  it(
    'runs a scripted Write tool call and reports success',
    async () => {
      const sessionId = randomUUID();
      const { api, home, workspace } = await setup((workspace) => [
        {
          text: 'Writing the file.',
          toolUse: [{ name: 'Write', input: { file_path: join(workspace, 'hello.txt'), content: 'hello from reins\n' } }],
        },
        { text: 'Done: wrote hello.txt.' },
      ]);
      const filePath = join(workspace, 'hello.txt');
      const run = await runClaude(['-p', 'write hello.txt', '--session-id', sessionId], workspace, claudeEnv(api, home));

      expect(run.code, run.stderr).toBe(0);
      expect(await readFile(filePath, 'utf8')).toBe('hello from reins\n');
      expect(run.result).toMatchObject({
        subtype: 'success',
        is_error: false,
        num_turns: 2,
        result: 'Done: wrote hello.txt.',
        session_id: sessionId,
      });
      expect(run.result?.total_cost_usd).toBeGreaterThan(0);
      expect(run.lines[0]).toMatchObject({ type: 'system', subtype: 'init', session_id: sessionId });

      // The second request carries the tool's result back to "the model".
      expect(api.requests).toHaveLength(2);
      const [first, second] = api.requests;
      expect(first?.turn).toBe(0);
      expect(first?.promptText).toBe('write hello.txt');
      expect(first?.systemText).toContain(`Primary working directory: ${workspace}`);
      expect(first?.conversationKey).toBe(sessionId);
      expect(first?.body.stream).toBe(true);
      expect(first?.headers['x-api-key']).toBe('test-key');
      expect(second?.turn).toBe(1);
      const results = second === undefined ? [] : lastToolResults(second);
      expect(results).toHaveLength(1);
      expect(results[0]?.tool_use_id).toMatch(/^toolu_reins_\d{6}$/);
      expect(results[0]?.is_error ?? false).toBe(false);
      expect(toolResultText(results[0] ?? { type: 'tool_result', tool_use_id: '' })).toContain(filePath);
      expect(api.otherRequests).toEqual([]);
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'reports a 400 as an error result with its status and message',
    async () => {
      const { api, home, workspace } = await setup(() => [{ error: { status: 400, message: 'reins test: prompt is malformed' } }]);
      const run = await runClaude(['-p', 'anything', '--session-id', randomUUID()], workspace, claudeEnv(api, home));

      expect(run.code).toBe(1);
      expect(run.result).toMatchObject({ type: 'result', is_error: true, api_error_status: 400 });
      expect(run.result).toMatchObject({ api_error_type: 'invalid_request_error', terminal_reason: 'api_error' });
      expect(String(run.result?.result)).toContain('reins test: prompt is malformed');
      // A 400 gets no backoff retries, but 2.1.328 does re-send the request at
      // once with fewer `anthropic-beta` flags (6 requests in all, within ~50 ms)
      // in case a beta was what the server refused. Each is still turn 0.
      expect(api.requests.length).toBeGreaterThanOrEqual(1);
      expect(api.requests.every((r) => r.turn === 0 && r.headers['x-stainless-retry-count'] === '0')).toBe(true);
    },
    RUN_TIMEOUT_MS + 10_000,
  );

  it(
    'sends the earlier conversation when a session is resumed',
    async () => {
      const sessionId = randomUUID();
      const { api, home, workspace } = await setup(() => [{ text: 'First answer.' }, { text: 'Second answer.' }]);
      const env = claudeEnv(api, home);

      const first = await runClaude(['-p', 'first prompt', '--session-id', sessionId], workspace, env);
      expect(first.result).toMatchObject({ is_error: false, result: 'First answer.', session_id: sessionId });

      const second = await runClaude(['-p', 'second prompt', '--resume', sessionId], workspace, env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.result).toMatchObject({ is_error: false, result: 'Second answer.', session_id: sessionId });

      expect(api.requests).toHaveLength(2);
      const resumed = api.requests[1];
      // Same conversation, continued from turn 1 because the first answer is in it.
      expect(resumed?.conversationKey).toBe(sessionId);
      expect(resumed?.turn).toBe(1);
      expect(resumed?.promptText).toBe('first prompt');
      const sent = JSON.stringify(resumed?.body.messages);
      expect(sent).toContain('first prompt');
      expect(sent).toContain('First answer.');
      expect(sent).toContain('second prompt');
    },
    2 * RUN_TIMEOUT_MS + 10_000,
  );
});
