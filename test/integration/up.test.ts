import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, startRedis } from '../helpers/redis.js';
import { reinsBin, repoRoot, withFleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { startLocalRedis } from '../../apps/cli/src/local-redis.js';

describe('one machine', () => {
  it('reins up --run starts scheduler, worker and board, runs the example, and stops everything', async () => {
    const redis = await startRedis();
    try {
      await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
        const port = await freePort();
        const result = await fleet.reins(['up', '--run', path.join(repoRoot, 'examples/hello.yaml'), '--port', String(port)], { timeoutMs: 60_000 });
        expect(result.exitCode, result.stderr).toBe(0);
        expect(result.stderr).toContain(`board:   http://127.0.0.1:${port}/`);
        expect(result.stdout).toMatch(/run r-[a-z0-9]+ \(hello\): succeeded/);
        for (const role of ['scheduler', 'worker', 'board']) expect(existsSync(path.join(fleet.dataDir, 'logs', `${role}.log`))).toBe(true);
      });
    } finally {
      await redis.stop();
    }
  });

  it('reins up serves the board, and Ctrl-C stops every role it started', async () => {
    const redis = await startRedis();
    try {
      await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
        const port = await freePort();
        const up = spawn(process.execPath, [reinsBin, 'up', '--port', String(port)], { env: fleet.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        const ready = new Promise<void>((resolve, reject) => {
          up.stderr.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
            if (stderr.includes('Ctrl-C stops everything')) resolve();
          });
          up.once('exit', (code) => reject(new Error(`reins up exited early (${code}): ${stderr}`)));
        });
        const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
        await ready;
        // The board answers once it listens; poll the health check (the log line is in a file).
        let health: Response | undefined;
        for (let i = 0; i < 100 && !health?.ok; i += 1) {
          health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
          if (!health?.ok) await new Promise((r) => setTimeout(r, 50));
        }
        expect(health?.ok).toBe(true);
        up.kill('SIGINT');
        expect(await exited).toBe(0);
        expect(stderr).toContain('stopping reins');
        await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
      });
    } finally {
      await redis.stop();
    }
  });

  it('starts its own redis-server with an append-only file and noeviction', async () => {
    const dir = tempDir('own-redis');
    const port = await freePort();
    const local = await startLocalRedis(port, dir);
    const client = new Redis(local.url);
    try {
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      await client.set('k', 'v');
    } finally {
      client.disconnect();
      await local.stop();
    }
    expect(existsSync(path.join(dir, 'appendonlydir'))).toBe(true);
  });

  it('doctor names what is missing and how to fix it', async () => {
    const redis = await startRedis();
    try {
      await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
        const ok = await fleet.reins(['doctor'], { env: { ANTHROPIC_API_KEY: 'k' } });
        expect(ok.stdout).toMatch(/ok\s+redis\s+redis:\/\/127\.0\.0\.1:\d+, version \d/);
        expect(ok.stdout).toMatch(/ok\s+tmux\s+tmux 3/);
        expect(ok.stdout).toMatch(/ok\s+claude\s+.*2\.1\.328/);
        expect(ok.exitCode, ok.stdout).toBe(0);
        expect(ok.stdout).toMatch(/ok\s+data dir\s+\S+, [\d.]+ (B|KiB|MiB|GiB) free$/m);
        const cramped = await fleet.reins(['doctor'], { env: { ANTHROPIC_API_KEY: 'k', REINS_MIN_FREE_BYTES: String(2 ** 52) } });
        expect(cramped.exitCode, 'too little room is a warning, not a failure').toBe(0);
        expect(cramped.stdout).toMatch(/WARN\s+data dir .* free, under REINS_MIN_FREE_BYTES \(4194304 GiB\): a worker here would take no jobs\n\s+fix: free some space/);
        const bad = await fleet.reins(['doctor'], {
          env: { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: '', ANTHROPIC_BASE_URL: '', REINS_REDIS_URL: 'redis://:secret@127.0.0.1:1', REINS_CLAUDE_BIN: '/nonexistent/claude' },
        });
        expect(bad.exitCode).toBe(1);
        expect(bad.stdout).toMatch(/MISSING redis\s+Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
        expect(bad.stdout).not.toContain('secret');
        expect(bad.stdout).toMatch(/MISSING claude/);
        expect(bad.stdout).toMatch(/MISSING api .*\n\s+fix: export ANTHROPIC_API_KEY/);
      });
    } finally {
      await redis.stop();
    }
  });
});
