import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { RunStore, createKeys } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { repoRoot } from '../helpers/fleet.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';

const redis = useRedis();

describe('npm run demo:claude', () => {
  it('runs examples/claude-team.yaml with the real Claude Code CLI against the scripted model: claude members, tmux, a cost', async () => {
    const dataDir = tempDir('demo-claude');
    const prefix = `demo${process.pid}`;
    const env = {
      ...scratchEnv(path.join(dataDir, 'home')),
      REINS_REDIS_URL: redis.url,
      REINS_PREFIX: prefix,
      REINS_DATA_DIR: dataDir,
      REINS_BOARD_PORT: String(await freePort()),
      REINS_MONITOR_INTERVAL_MS: '200',
      REINS_RECONCILE_INTERVAL_MS: '250',
      // No pacing: a person watching gets 1.5 s a step; the test needs none.
      REINS_DEMO_STEP_MS: '0',
    };
    // The script npm runs, without ensure-deps (the suite's global setup has checked the tools).
    const demo = await execa(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/demo-claude/main.ts')], { cwd: repoRoot, env, extendEnv: false, reject: false, timeout: 120_000 });
    expect(demo.exitCode, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stderr).toContain('against a SCRIPTED model');
    expect(demo.stdout).toMatch(/run r-[a-z0-9]+ \(claude-team\): succeeded, [^,]+, \$0\.\d{4}/);
    for (const member of ['designer', 'implementer', 'writer']) expect(demo.stdout).toMatch(new RegExp(`\\n${member}\\s+succeeded\\s+1\\s+\\d+\\s+\\$0\\.\\d{4}`));
    expect(demo.stdout).toMatch(/writer:\n(?:.*\n)*?\s+summary:\s+Wrote README\.md/);

    const store = new RunStore(redis.client, createKeys(prefix));
    const runId = /run (r-[a-z0-9]+)/.exec(demo.stdout)![1]!;
    const members = await store.getMembers({ runId, members: ['designer', 'implementer', 'writer'] });
    for (const m of members) {
      expect(m).toMatchObject({ status: 'succeeded' });
      expect(m.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(m.costUsd).toBeGreaterThan(0);
      expect(m.tmuxSession).toBe(`reins-${runId}-${m.name}-1`);
    }
    // Real tools ran in real workspaces: the implementer read the designer's file and wrote its own.
    const events = (await store.readEvents(runId, 'implementer', '-', 100)).map((e) => `${e.kind} ${e.text}`);
    expect(events).toEqual(expect.arrayContaining([expect.stringMatching(/^tool Read .*inputs\/designer\/DESIGN\.md$/), expect.stringMatching(/^tool Write .*roman\.py$/)]));
  });
});
