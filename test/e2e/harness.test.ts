import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { byConversation, scripted, type Handler, type RecordedRequest } from '../helpers/messages-api.js';
import { useClaudeFixture } from '../helpers/claude-fixture.js';
import { withFleet, writeHarness, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitForRunEnd } from '../helpers/chaos.js';
import { holdToolCall, waitForGateSh } from '../helpers/gate.js';

const fixture = useClaudeFixture();

const apiEnv = () => fixture.apiEnv();
const claudeFleet = <T>(story: (fleet: Fleet) => Promise<T>) => withFleet({ redisUrl: fixture.redis.url, env: { ...CHAOS_ENV, ...apiEnv() } }, story);

/** Routes by who is asking: the planner, or a member (named in reins' appended system prompt). */
const who = (req: RecordedRequest): string => (req.systemText.includes('You are the planner of a reins team') ? 'planner' : (/You are "([^"]+)", one member of the reins team/.exec(req.systemText)?.[1] ?? 'unknown'));
const cwdOf = (req: RecordedRequest): string => /Primary working directory: (\S+)/.exec(req.systemText)![1]!;

/** A plan that passes the JSON Schema but names a skill that does not exist: only reins' own check catches it. */
const INVALID_PLAN = {
  team: [
    { name: 'writer', role: 'writes', prompt: 'Write notes.md.', depends_on: [], skills: ['no-such-skill'] },
    { name: 'reviewer', role: 'reviews', prompt: 'Review notes.md.', depends_on: ['writer'], skills: [] },
  ],
};
const VALID_PLAN = {
  team: [
    { name: 'writer', role: 'writes the notes', prompt: 'Write notes.md with three bullet points.', depends_on: [], skills: ['reins-team', 'reins-checkpoint'] },
    { name: 'reviewer', role: 'reviews the notes', prompt: 'Review notes.md and reply LGTM.', depends_on: ['writer'], skills: ['git-hygiene'] },
  ],
};

function plannerScript(): Handler {
  return scripted([{ toolUse: [{ name: 'StructuredOutput', input: INVALID_PLAN }] }, { toolUse: [{ name: 'StructuredOutput', input: VALID_PLAN }] }]);
}

describe('the harness, with the real CLI', () => {
  it('plan: auto — a planner assembles the team (retrying once after an invalid plan), then the team runs with its skills', async () => {
    fixture.script(
      byConversation(who, {
        planner: plannerScript(),
        writer: scripted([{ text: 'notes written' }]),
        reviewer: scripted([{ text: 'LGTM' }]),
      }),
    );
    const file = await writeHarness(tempDir('planned'), { name: 'planned', plan: 'auto', goal: 'Write and review short notes about reins.' });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as { runId: string; status: string; members: { name: string; status: string }[] };
      expect(view.members.map((m) => [m.name, m.status])).toEqual([
        ['_planner', 'succeeded'],
        ['writer', 'succeeded'],
        ['reviewer', 'succeeded'],
      ]);
      // The retry carried reins' own validation errors back to the planner.
      const retry = fixture.api.requests.find((r) => who(r) === 'planner' && r.turn === 1)!;
      expect(JSON.stringify(retry.body.messages)).toContain('unknown skill \\"no-such-skill\\"');
      // Each member's own skills were injected, and Claude Code's init line lists them.
      const logs = await fleet.reins(['logs', view.runId, 'writer']);
      expect(logs.stdout).toMatch(/init\s+session .* skills: .*reins-team/);
      expect(logs.stdout).toMatch(/skills: .*reins-checkpoint/);
      const reviewerLogs = await fleet.reins(['logs', view.runId, 'reviewer']);
      expect(reviewerLogs.stdout).toMatch(/skills: .*git-hygiene/);
      expect(reviewerLogs.stdout).not.toMatch(/skills: .*reins-team/);
      const store = storeOf(fixture.redis.client, fleet);
      const run = await store.getRun(view.runId);
      expect(run?.spec.team?.map((m) => m.name)).toEqual(['writer', 'reviewer']);
    });
  });

  it('a planner that stays invalid fails the run with the validation errors', async () => {
    fixture.script(byConversation(who, { planner: scripted([{ toolUse: [{ name: 'StructuredOutput', input: INVALID_PLAN }] }, { toolUse: [{ name: 'StructuredOutput', input: INVALID_PLAN }] }]) }));
    const file = await writeHarness(tempDir('badplan'), { name: 'badplan', plan: 'auto', goal: 'Anything.' });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { members: { name: string; status: string; error?: string }[] };
      expect(view.members).toHaveLength(1);
      expect(view.members[0]!.status).toBe('failed');
      expect(view.members[0]!.error).toContain('team[0].skills[0]: unknown skill "no-such-skill"');
    });
  });

  it('verify: a member whose first answer leaves a failing check is resumed with its output, and its second answer fixes it', async () => {
    fixture.script(
      byConversation(who, {
        fixer: (req) =>
          req.turn === 0
            ? { text: 'All done (not really).' }
            : req.turn === 1
              ? { toolUse: [{ name: 'Write', input: { file_path: path.join(cwdOf(req), 'fixed.txt'), content: 'fixed\n' } }] }
              : { text: 'Now it is fixed.' },
      }),
    );
    const file = await writeHarness(tempDir('verified'), {
      name: 'verified',
      team: [
        {
          name: 'fixer',
          prompt: 'Create fixed.txt.',
          verify: {
            commands: [
              ['test', '-f', 'fixed.txt'],
              ['grep', '-q', 'fixed', 'fixed.txt'],
            ],
            maxRounds: 2,
          },
        },
      ],
    });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as { members: { workspace: string; attempts: number; sessionId: string }[] };
      expect(view.members[0]!.attempts).toBe(1);
      expect(readFileSync(path.join(view.members[0]!.workspace, 'fixed.txt'), 'utf8')).toBe('fixed\n');
      const fixRound = fixture.api.requests.find((r) => who(r) === 'fixer' && r.turn === 1)!;
      const text = JSON.stringify(fixRound.body.messages);
      expect(text).toContain('a check failed (fix round 1 of 2)');
      expect(text).toContain('`test -f fixed.txt` exited with code 1');
      // The fix round resumed the same session.
      expect(fixRound.conversationKey).toBe(view.members[0]!.sessionId);
    });
  });

  it('verify: checks that still fail after maxRounds fail the member with the output as its reason', async () => {
    fixture.script(() => ({ text: 'done' }));
    const file = await writeHarness(tempDir('unverified'), {
      name: 'unverified',
      retry: { attempts: 3 },
      team: [{ name: 'stubborn', prompt: 'Do nothing.', verify: { commands: [['sh', '-c', 'echo "3 tests failed"; exit 1']], maxRounds: 1 } }],
    });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--wait', '--json']);
      expect(result.exitCode).toBe(1);
      const view = JSON.parse(result.stdout) as { members: { status: string; attempts: number; error?: string }[] };
      expect(view.members[0]).toMatchObject({ status: 'failed', attempts: 1 });
      expect(view.members[0]!.error).toContain('checks still fail after 1 fix rounds');
      expect(view.members[0]!.error).toContain('3 tests failed');
    });
  });

  it("hooks: the harness's own hooks and reins' heartbeat hooks both fire", async () => {
    const dir = tempDir('hooked');
    const marker = path.join(dir, 'user-hook-fired');
    const gate = path.join(dir, 'gate');
    // Long enough for the CLI to start and reach the step on a loaded machine: the step is what outlasts it.
    const idleTimeoutMs = 5_000;
    fixture.script((req) => (req.turn === 0 ? { toolUse: [{ name: 'Bash', input: { command: `${waitForGateSh(gate)}; echo slow`, description: 'a slow step' } }] } : { text: 'done' }));
    const file = await writeHarness(dir, {
      name: 'hooked',
      // The idle timeout is shorter than the tool call: only reins' hooks keep the member from being killed as hung.
      limits: { idleTimeoutMs },
      hooks: { PostToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: `touch '${marker}'` }] }] },
      team: [{ name: 'hooked', prompt: 'Run the slow step.' }],
    });
    await claudeFleet(async (fleet) => {
      const waited = fleet.reins(['submit', file, '--wait', '--json']);
      // The step lasts until it has outlived the idle timeout twice over, then the gate opens.
      await holdToolCall(gate, 2 * idleTimeoutMs);
      const result = await waited;
      expect(result.exitCode, result.stderr + result.stdout).toBe(0);
      const view = JSON.parse(result.stdout) as { runId: string; members: { attempts: number }[] };
      expect(view.members[0]!.attempts).toBe(1);
      expect((await storeOf(fixture.redis.client, fleet).readAttempts(view.runId, 'hooked')).map((a) => a.outcome)).toEqual(['succeeded']);
      expect(existsSync(marker)).toBe(true);
    });
  });
});

describe('reviewing a plan before running it', () => {
  it('reins plan FILE runs only the planner, here, and prints the team as YAML or JSON', async () => {
    fixture.script(byConversation(who, { planner: plannerScript() }));
    const file = await writeHarness(tempDir('plan-local'), { name: 'plan-local', plan: 'auto', goal: 'Write and review notes.' });
    await withFleet({ redisUrl: fixture.redis.url, scheduler: false, workers: 0, env: apiEnv() }, async (fleet) => {
      const yaml = await fleet.reins(['plan', file]);
      expect(yaml.exitCode, yaml.stderr).toBe(0);
      expect(yaml.stdout).toContain('team:\n  - name: writer\n    role: writes the notes');
      expect(yaml.stdout).toContain('      - reins-team');
      fixture.script(byConversation(who, { planner: plannerScript() }));
      const json = await fleet.reins(['plan', file, '--json']);
      expect(json.exitCode, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ team: VALID_PLAN.team });
      // Planning needs no Redis at all.
      expect(await fixture.redis.client.keys(`{${fleet.prefix}}*`)).toEqual([]);
    });
  });

  it('reins submit --plan-only runs the planner through the fleet and prints its team, without running it', async () => {
    fixture.script(byConversation(who, { planner: plannerScript() }));
    const file = await writeHarness(tempDir('plan-fleet'), { name: 'plan-fleet', plan: 'auto', goal: 'Write and review notes.' });
    await claudeFleet(async (fleet) => {
      const result = await fleet.reins(['submit', file, '--plan-only', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const { runId, team } = JSON.parse(result.stdout) as { runId: string; team: unknown };
      expect(team).toEqual(VALID_PLAN.team);
      const view = await waitForRunEnd(storeOf(fixture.redis.client, fleet), runId);
      expect(view.members.map((m) => m.name)).toEqual(['_planner']);
      const explicit = await fleet.reins(['submit', file.replace('harness.yaml', 'nope.yaml'), '--plan-only']);
      expect(explicit.exitCode).toBe(2);
    });
  });
});
