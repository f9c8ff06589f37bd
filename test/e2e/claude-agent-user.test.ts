import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_USER, agentUserIds, passableDir } from '../helpers/agent-user.js';
import { storeOf } from '../helpers/chaos.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness } from '../helpers/fleet.js';
import { holdToolCall, waitForGateSh } from '../helpers/gate.js';
import { createBareRepository, gitEnv } from '../helpers/git-remote.js';
import { scripted, type RecordedRequest } from '../helpers/messages-api.js';
import { tempDir } from '../helpers/test-root.js';

const ids = agentUserIds();
if (typeof ids === 'string') console.warn(`Claude Code as the agent user skipped: ${ids}`);
const story = typeof ids === 'string' ? it.skip : it;

const fixture = useClaudeFixture();

const cwdOf = (req: RecordedRequest): string => {
  const cwd = /Primary working directory: (\S+)/.exec(req.systemText)?.[1];
  if (!cwd) throw new Error('no working directory in the request');
  return cwd;
};

describe(`real Claude Code as ${AGENT_USER}`, () => {
  story('its tool hooks keep its heartbeat through a step longer than the idle timeout, and what it writes on a harness repo reaches the remote', async () => {
    const remote = await createBareRepository(tempDir('claude-user-remote'), 'app', { files: { 'README.md': '# app\n' } });
    // The gate is somewhere the agent's user can see it.
    const gate = path.join(passableDir('claude-user-gate'), 'gate');
    const idleTimeoutMs = 5_000;
    const steps = scripted([
      { toolUse: [{ name: 'Bash', input: { command: `${waitForGateSh(gate)}; id -un`, description: 'a slow step' } }] },
      { toolUse: [{ name: 'Write', input: { file_path: '__CWD__/NOTES.md', content: 'notes from claude\n' } }] },
      { text: 'Wrote NOTES.md.' },
    ]);
    fixture.script((req) => JSON.parse(JSON.stringify(steps(req)).replace('__CWD__', cwdOf(req))));
    const file = await writeHarness(tempDir('claude-user'), {
      name: 'own-user',
      repo: { url: `file://${remote.gitDir}` },
      agent: { kind: 'claude', maxTurns: 5 },
      limits: { idleTimeoutMs },
      team: [{ name: 'writer', prompt: 'Run the slow step, then write NOTES.md.' }],
    });
    const env = { REINS_AGENT_USER: AGENT_USER, ANTHROPIC_BASE_URL: fixture.api.url, ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_MAX_RETRIES: '0' };
    await withFleet({ redisUrl: fixture.redis.url, env }, async (fleet) => {
      const waited = fleet.reins(['submit', file, '--wait', '--json']);
      // Outliving the idle timeout twice over is the point: only the hooks' pings, through the socket, keep it alive.
      await holdToolCall(gate, 2 * idleTimeoutMs);
      const result = await waited;
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as { runId: string; resultBranch: string };
      expect((await storeOf(fixture.redis.client, fleet).readAttempts(view.runId, 'writer')).map((a) => a.outcome)).toEqual(['succeeded']);
      // The Bash tool ran as the agent's user: its output went back to the model.
      const afterStep = fixture.api.requests.find((r) => r.turn === 1);
      expect(JSON.stringify(afterStep?.body.messages)).toContain(AGENT_USER);
      const git = (...args: string[]) => execFileSync('git', ['-C', remote.gitDir, ...args], { encoding: 'utf8', env: gitEnv() }).trim();
      expect(git('show', `${view.resultBranch}:NOTES.md`)).toBe('notes from claude');
    });
  });
});
