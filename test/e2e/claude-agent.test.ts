import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { byConversation, scripted, type RecordedRequest } from '../helpers/messages-api.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { createBareRepository, gitEnv } from '../helpers/git-remote.js';

/** The worker tells each agent who it is in the appended system prompt; route replies by that. */
const memberOf = (req: RecordedRequest): string => /You are "([^"]+)", one member of the reins team/.exec(req.systemText)?.[1] ?? 'unknown';
const cwdOf = (req: RecordedRequest): string => {
  const cwd = /Primary working directory: (\S+)/.exec(req.systemText)?.[1];
  if (!cwd) throw new Error('no working directory in the request');
  return cwd;
};

const fixture = useClaudeFixture();

const claudeFleet = <T>(story: (fleet: Fleet) => Promise<T>) =>
  withFleet(
    {
      redisUrl: fixture.redis.url,
      // Passed through to agents: the worker forwards ANTHROPIC_* and CLAUDE_CODE_* only.
      env: { ANTHROPIC_BASE_URL: fixture.api.url, ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_MAX_RETRIES: '0', SECRET_OF_THE_WORKER: 'must-not-leak' },
    },
    story,
  );

interface View {
  runId: string;
  status: string;
  members: { name: string; status: string; attempts: number; workspace: string; exitCode?: number; sessionId?: string; costUsd?: number; numTurns?: number; error?: string }[];
}

describe('real Claude Code agents', () => {
  it('writes a file through the Write tool, with skills injected, and records session, cost and turns', async () => {
    const dir = tempDir('claude-write');
    const original = scripted([
      { toolUse: [{ name: 'Bash', input: { command: 'ls .claude/skills; echo "leak=$SECRET_OF_THE_WORKER home=$HOME"', description: 'look around' } }] },
      { toolUse: [{ name: 'Write', input: { file_path: '__CWD__/hello.txt', content: 'hello from claude\n' } }] },
      { text: 'I wrote hello.txt.' },
    ]);
    fixture.script((req) => {
      const reply = original(req);
      return JSON.parse(JSON.stringify(reply).replace('__CWD__', cwdOf(req)));
    });
    const file = await writeHarness(dir, {
      name: 'writer',
      goal: 'Greet the world in a file.',
      agent: { kind: 'claude', maxTurns: 5 },
      team: [{ name: 'writer', prompt: 'Write hello.txt saying hello.', skills: ['git-hygiene'] }],
    });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as View;
      const writer = view.members[0]!;
      expect(writer).toMatchObject({ name: 'writer', status: 'succeeded', attempts: 1, exitCode: 0, numTurns: 3 });
      expect(writer.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(writer.costUsd).toBeGreaterThan(0);
      expect(readFileSync(path.join(writer.workspace, 'hello.txt'), 'utf8')).toBe('hello from claude\n');
      expect(existsSync(path.join(writer.workspace, '.claude/skills/git-hygiene/SKILL.md'))).toBe(true);

      const requests = fixture.api.requests.filter((r) => r.conversationKey === writer.sessionId);
      expect(requests.length).toBe(3);
      expect(requests[0]!.systemText).toContain('You are "writer", one member of the reins team "writer"');
      expect(requests[0]!.systemText).toContain('Greet the world in a file.');
      const bashOutput = JSON.stringify(requests[1]!.body.messages.at(-1));
      expect(bashOutput).toContain('git-hygiene');
      expect(bashOutput).toContain('leak= home=');
      expect(bashOutput).not.toContain('must-not-leak');

      const logs = await fleet.reins(['logs', view.runId, 'writer']);
      expect(logs.stdout).toMatch(/init\s+session [0-9a-f-]{36} started/);
      expect(logs.stdout).toMatch(/tool\s+Write .*hello\.txt/);
      expect(logs.stdout).toMatch(/result\s+success in 3 turns, \$\d+\.\d{4}: I wrote hello\.txt\./);
    });
  });

  it('works on a harness repo: what it writes with the Write tool, uncommitted, reaches the result branch on the remote', async () => {
    const remote = await createBareRepository(tempDir('claude-remote'), 'app', { files: { 'README.md': '# app\n' } });
    fixture.script((req) =>
      JSON.parse(JSON.stringify(scripted([{ toolUse: [{ name: 'Write', input: { file_path: '__CWD__/NOTES.md', content: 'notes from claude\n' } }] }, { text: 'Wrote NOTES.md.' }])(req)).replace('__CWD__', cwdOf(req))),
    );
    const file = await writeHarness(tempDir('claude-repo'), {
      name: 'remote-writer',
      repo: { url: `file://${remote.gitDir}` },
      agent: { kind: 'claude', maxTurns: 5 },
      team: [{ name: 'writer', prompt: 'Write NOTES.md.' }],
    });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as View & { resultBranch: string };
      const git = (...args: string[]) => execFileSync('git', ['-C', remote.gitDir, ...args], { encoding: 'utf8', env: gitEnv() }).trim();
      expect(git('show', `${view.resultBranch}:NOTES.md`)).toBe('notes from claude');
      expect(git('log', '-1', '--format=%s', `reins/${view.runId}/writer`)).toBe('reins: work writer left uncommitted');
    });
  });

  it('runs a two-member team in order', async () => {
    const dir = tempDir('claude-order');
    fixture.script(
      byConversation(memberOf, {
        planner: scripted([{ text: 'The plan: write notes.' }]),
        builder: scripted([{ text: 'Built on the plan.' }]),
      }),
    );
    const file = await writeHarness(dir, {
      name: 'duo',
      team: [
        { name: 'builder', prompt: 'Build it.', depends_on: ['planner'] },
        { name: 'planner', prompt: 'Plan it.' },
      ],
    });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const view = JSON.parse(result.stdout) as View;
      expect(view.members.map((m) => [m.name, m.status, m.numTurns])).toEqual([
        ['builder', 'succeeded', 1],
        ['planner', 'succeeded', 1],
      ]);
      const session = (name: string) => view.members.find((m) => m.name === name)!.sessionId;
      const plannerRequests = fixture.api.requests.filter((r) => r.conversationKey === session('planner'));
      const builderRequests = fixture.api.requests.filter((r) => r.conversationKey === session('builder'));
      expect(plannerRequests.length).toBeGreaterThan(0);
      expect(builderRequests.length).toBeGreaterThan(0);
      expect(builderRequests[0]!.time).toBeGreaterThan(plannerRequests.at(-1)!.time);
      expect(builderRequests[0]!.systemText).toContain('The work of planner is finished before you start');
    });
  });

  it('delivers a hostile prompt to the model byte for byte and runs none of it', async () => {
    const dir = tempDir('claude-hostile');
    const prompt = `"; touch ${dir}/pwned; $(touch ${dir}/pwned2) \`touch ${dir}/pwned3\` -- --help\nline two`;
    fixture.script(scripted([{ text: 'ok' }]));
    const file = await writeHarness(dir, { name: 'hostile', team: [{ name: 'victim', prompt }] });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const view = JSON.parse(result.stdout) as View;
      const request = fixture.api.requests.find((r) => r.conversationKey === view.members[0]!.sessionId)!;
      expect(request.promptText).toBe(prompt);
    });
    for (const name of ['pwned', 'pwned2', 'pwned3']) expect(existsSync(path.join(dir, name))).toBe(false);
  });

  it('fails a member whose API answers 400, with the error text recorded, without retrying', async () => {
    const dir = tempDir('claude-400');
    fixture.script(() => ({ error: { status: 400, message: 'model "claude-nonexistent" is not available' } }));
    const file = await writeHarness(dir, {
      name: 'bad-request',
      retry: { attempts: 3 },
      team: [
        { name: 'doomed', prompt: 'Try.', agent: { kind: 'claude', model: 'claude-nonexistent' } },
        { name: 'after', prompt: 'Never.', depends_on: ['doomed'] },
      ],
    });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as View;
      expect(view.status).toBe('failed');
      const doomed = view.members[0]!;
      expect(doomed).toMatchObject({ status: 'failed', attempts: 1, exitCode: 1 });
      expect(doomed.error).toContain('API status 400');
      expect(doomed.error).toContain('model "claude-nonexistent" is not available');
      expect(view.members[1]).toMatchObject({ status: 'skipped' });
      const human = await fleet.reins(['status', view.runId]);
      expect(human.stdout).toContain('[bad_request]');
    });
  });

  it("keeps the developer's own ANTHROPIC_MODEL, ANTHROPIC_API_KEY and CLAUDE_CODE_USE_BEDROCK away from the roles and the real CLI", async () => {
    const developer = { ANTHROPIC_MODEL: 'model-of-the-developer', ANTHROPIC_API_KEY: 'sk-ant-key-of-the-developer', CLAUDE_CODE_USE_BEDROCK: '1', ANTHROPIC_SMALL_FAST_MODEL: 'small-model-of-the-developer' };
    const saved = Object.fromEntries(Object.keys(developer).map((name) => [name, process.env[name]]));
    Object.assign(process.env, developer);
    try {
      const dir = tempDir('claude-dev-env');
      fixture.script(scripted([{ toolUse: [{ name: 'Bash', input: { command: 'env | grep -E "^(ANTHROPIC|CLAUDE_CODE)_" | sort; echo env-listed', description: 'list the API settings' } }] }, { text: 'listed' }]));
      const file = await writeHarness(dir, { name: 'dev-env', team: [{ name: 'looker', prompt: 'List the API settings.' }] });
      await claudeFleet(async (fleet) => {
        // The roles themselves never saw the developer's values.
        for (const role of [...fleet.workers, fleet.scheduler!]) {
          const environ = readFileSync(`/proc/${role.pid}/environ`, 'latin1').split('\0');
          for (const [name, value] of Object.entries(developer)) expect(environ, `${role.role} ${name}`).not.toContain(`${name}=${value}`);
        }
        const result = await fleet.reins(['submit', file, '--wait', '--json']);
        expect(result.exitCode, result.stderr + result.stdout).toBe(0);
        const view = JSON.parse(result.stdout) as View;
        // The environment the launcher gave the agent (the attempt dir's env file, NUL-separated).
        const memberDir = path.join(fleet.dataDir, 'runs', view.runId, 'looker');
        const [attempt] = readdirSync(memberDir).filter((d) => d.startsWith('e'));
        const agentEnv = readFileSync(path.join(memberDir, attempt!, 'env'), 'utf8')
          .split('\0')
          .filter(Boolean);
        expect(agentEnv).toContain('ANTHROPIC_API_KEY=test-key');
        expect(agentEnv.filter((e) => e.startsWith('ANTHROPIC_MODEL=') || e.startsWith('CLAUDE_CODE_USE_BEDROCK=') || e.startsWith('ANTHROPIC_SMALL_FAST_MODEL='))).toEqual([]);
        // What the real CLI saw and sent: its tools' environment, its key and the model it asked for.
        const requests = fixture.api.requests.filter((r) => r.conversationKey === view.members[0]!.sessionId);
        expect(requests).toHaveLength(2);
        const listed = JSON.stringify(requests[1]!.body.messages.at(-1));
        expect(listed).toContain('env-listed');
        expect(listed).toContain('ANTHROPIC_API_KEY=test-key');
        for (const [name, value] of Object.entries(developer)) expect(listed).not.toContain(`${name}=${value}`);
        for (const name of ['ANTHROPIC_MODEL', 'ANTHROPIC_SMALL_FAST_MODEL', 'CLAUDE_CODE_USE_BEDROCK']) expect(listed).not.toContain(`${name}=`);
        for (const request of requests) {
          expect(request.headers['x-api-key']).toBe('test-key');
          expect(request.body.model).not.toContain('of-the-developer');
        }
      });
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
