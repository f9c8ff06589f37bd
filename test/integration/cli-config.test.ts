import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { reinsBin } from '../helpers/fleet.js';
import { useRedis } from '../helpers/redis.js';
import { scratchEnv } from '../helpers/test-root.js';

const redis = useRedis();
const reins = (args: string[], env: Record<string, string>) => execa(process.execPath, [reinsBin, ...args], { env: { ...scratchEnv(), ...env }, extendEnv: false, reject: false, timeout: 30_000 });

describe('configuration the CLI refuses', () => {
  it('a worker whose lease could not outlast a tick: exit 2, naming both variables and the smallest TTL that works', async () => {
    const result = await reins(['worker'], { REINS_REDIS_URL: redis.url, REINS_HEARTBEAT_TTL_MS: '4000' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('REINS_HEARTBEAT_TTL_MS');
    expect(result.stderr).toContain('REINS_MONITOR_INTERVAL_MS=5000');
    expect(result.stderr).toMatch(/at least \d+ ms/);
  });

  it('a CLI command under a short TTL without the tick is not refused for it (only a worker holds leases)', async () => {
    // As in a shell that shares the fleet's settings: the workers' short TTL, no tick of its own.
    const result = await reins(['status', 'r-nosuchrun1'], { REINS_REDIS_URL: redis.url, REINS_HEARTBEAT_TTL_MS: '2000' });
    expect(result.stderr).not.toContain('REINS_HEARTBEAT_TTL_MS');
    expect(result.stderr).toContain('r-nosuchrun1');
  });

  it('a malformed Redis URL with a password: exit 2, the part that is wrong, the password hidden', async () => {
    const result = await reins(['status', 'r-nosuchrun1'], { REINS_REDIS_URL: 'redis+sentinel://admin:hunter2@h1:26379' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('names no master');
    expect(result.stderr).not.toContain('hunter2');
  });
});
