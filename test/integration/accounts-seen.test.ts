import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Accounts, createKeys } from '@reins/shared';
import { freePort, useRedis } from '../helpers/redis.js';
import { withFleet, type Fleet } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';

const redis = useRedis();

/** What a refused login might print, with a terminal escape (OSC 0 sets the window title) and markup in it. */
const HOSTILE = '\x1b]0;pwned\x07Not logged in <script>alert(1)</script> · Please run /login';
const HOUR_MS = 3600_000;

/** An accounts file holding `names`, each with a subscription token of its own. */
function accountsFile(names: string[]): string {
  const file = path.join(tempDir('accounts'), 'accounts.yaml');
  writeFileSync(file, `accounts:\n${names.map((n) => `  - name: ${n}\n    env:\n      CLAUDE_CODE_OAUTH_TOKEN: tok-${n}\n`).join('')}`);
  return file;
}

/**
 * A fleet where wa holds A and C, wb holds B, and wn holds none (no credentials at all); D was announced by a
 * worker that is gone. The states are written as the workers write them, through Accounts: A in its warning
 * zone with an agent running and usage today, B paused by a rejected window, C broken with a hostile message.
 */
async function withAccountsFleet(story: (fleet: Fleet, at: { now: number; resetsAt: number }) => Promise<void>): Promise<void> {
  await withFleet({ redisUrl: redis.url, scheduler: false, workers: 0 }, async (fleet) => {
    await fleet.startWorker('wa', { REINS_ACCOUNTS_FILE: accountsFile(['A', 'C']) });
    await fleet.startWorker('wb', { REINS_ACCOUNTS_FILE: accountsFile(['B']) });
    await fleet.startWorker('wn');
    const accounts = new Accounts(redis.client, createKeys(fleet.prefix), 60_000);
    const now = Date.now();
    const resetsAt = now + HOUR_MS;
    await accounts.announce([{ name: 'D', fingerprint: 'gone' }]);
    await accounts.observe(
      'A',
      { status: 'allowed_warning', rateLimitType: 'five_hour', utilization: 0.93, resetsAt: Math.floor(resetsAt / 1000), unifiedWindows: { seven_day: { status: 'allowed', utilization: 0.4 } } },
      now,
    );
    expect(await accounts.acquire('A', 'job-1', undefined, now)).toBe(true);
    await accounts.addUsage('A', { tokens: 12_345, costUsd: 0.5 }, now);
    await accounts.addUsage('A', { tokens: 655, costUsd: 0.25 }, now);
    await accounts.observe('B', { status: 'rejected', rateLimitType: 'five_hour', utilization: 1, resetsAt: Math.floor(resetsAt / 1000) }, now);
    await accounts.markBroken('C', HOSTILE, 'old-credentials', now);
    await story(fleet, { now, resetsAt: Math.floor(resetsAt / 1000) * 1000 });
  });
}

const utc = (epochMs: number) => `${new Date(epochMs).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
const rowOf = (page: string, account: string) => page.slice(page.indexOf(`data-account="${account}"`)).split('</tr>')[0]!;
const metricValue = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('accounts, as the fleet shows them', () => {
  it('the board lists each account with its windows, pause, broken mark, agents, usage today and holders, and /metrics has gauges for them', async () => {
    await withAccountsFleet(async (fleet, { resetsAt }) => {
      const base = await fleet.startBoard(await freePort());
      const response = await fetch(`${base}/accounts`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
      const page = await response.text();
      expect(page).toContain('<a href="/accounts" class="here">Accounts</a>');
      expect(await (await fetch(`${base}/runs`)).text()).toContain('<a href="/accounts" class="">Accounts</a>');

      const a = rowOf(page, 'A');
      expect(a).toContain('<span class="badge s-succeeded">ok</span>');
      expect(a).toMatch(/five_hour<\/span> <span class="badge [^"]*" data-window-status="allowed_warning">allowed_warning<\/span> <b>93%<\/b>/);
      expect(a).toContain(`resets ${utc(resetsAt)}`);
      expect(a).toMatch(/seven_day<\/span> .*<b>40%<\/b>/);
      expect(a).toContain('<td class="num">1</td>'); // its agent
      expect(a).toContain('<td class="num">13,000</td>');
      expect(a).toContain('<td class="num">$0.7500</td>');
      expect(a).toContain('<td>wa</td>');

      const b = rowOf(page, 'B');
      expect(b).toContain(`<span class="badge s-cancelled">paused</span> until ${utc(resetsAt)}`);
      expect(b).toContain('the five_hour window was rejected');
      expect(b).toContain('<td>wb</td>');

      const c = rowOf(page, 'C');
      expect(c).toContain('<span class="badge s-failed">broken</span>');
      // Markup escaped, as on every page, and control characters shown as the CLI shows them.
      expect(c).toContain('\\x1b]0;pwned\\x07Not logged in &lt;script&gt;alert(1)&lt;/script&gt; · Please run /login');
      expect(page).not.toContain('<script>alert(1)');
      expect(page).not.toContain('\x1b');

      expect(rowOf(page, 'D')).toContain('no live worker holds it');

      // The table alone, as the page polls it.
      const table = await (await fetch(`${base}/accounts?fragment=table`)).text();
      expect(table.startsWith('<table>')).toBe(true);
      expect(table).toContain('data-account="C"');
      expect((await fetch(`${base}/accounts?fragment=bogus`)).status).toBe(400);

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metricValue(metrics, 'reins_account_utilization{account="A",window="five_hour"}')).toBeCloseTo(0.93);
      expect(metricValue(metrics, 'reins_account_utilization{account="A",window="seven_day"}')).toBeCloseTo(0.4);
      expect(metricValue(metrics, 'reins_account_utilization{account="B",window="five_hour"}')).toBe(1);
      expect(metricValue(metrics, 'reins_account_paused{account="A"}')).toBe(0);
      expect(metricValue(metrics, 'reins_account_paused{account="B"}')).toBe(1);
      expect(metricValue(metrics, 'reins_account_broken{account="B"}')).toBe(0);
      expect(metricValue(metrics, 'reins_account_broken{account="C"}')).toBe(1);
      expect(metricValue(metrics, 'reins_account_agents{account="A"}')).toBe(1);
      expect(metricValue(metrics, 'reins_account_agents{account="D"}')).toBe(0);
      expect(metricValue(metrics, 'reins_account_tokens_today{account="A"}')).toBe(13_000);
      expect(metricValue(metrics, 'reins_account_cost_usd_today{account="A"}')).toBeCloseTo(0.75);
      expect(metricValue(metrics, 'reins_account_cost_usd_today{account="C"}')).toBe(0);
    });
  });

  it('reins doctor gives a line per account with its last known state and holders, warns of a broken one and of a worker that holds none, and escapes what Redis holds', async () => {
    await withAccountsFleet(async (fleet, { resetsAt }) => {
      const doctor = await fleet.reins(['doctor'], { env: { ANTHROPIC_API_KEY: 'k' } });
      expect(doctor.exitCode, 'a broken account is a warning, not a failure').toBe(0);
      const lines = doctor.stdout.split('\n');
      const line = (start: RegExp) => lines.find((l) => start.test(l));
      expect(line(/^ok\s+account\s+A: /)).toMatch(/A: ok; held by wa$/);
      expect(line(/^ok\s+account\s+B: /)).toMatch(new RegExp(`B: paused until ${utc(resetsAt)} \\(the five_hour window was rejected\\); held by wb$`));
      expect(line(/^ok\s+account\s+D: /)).toMatch(/D: ok; no live worker holds it$/);
      const c = lines.findIndex((l) => /^WARN\s+account\s+C: broken: /.test(l));
      expect(c, doctor.stdout).toBeGreaterThanOrEqual(0);
      expect(lines[c]).toContain('C: broken: \\x1b]0;pwned\\x07Not logged in <script>alert(1)</script> · Please run /login (since ');
      expect(lines[c]).toMatch(/; held by wa$/);
      expect(lines[c + 1]).toMatch(/^\s+fix: give the workers that hold C working credentials/);
      expect(line(/^WARN\s+account\s+worker wn/)).toMatch(/worker wn holds none/);
      expect(doctor.stdout).not.toContain('\x1b');
      expect(doctor.stdout).not.toContain('\x07');

      const json = JSON.parse((await fleet.reins(['doctor', '--json'], { env: { ANTHROPIC_API_KEY: 'k' } })).stdout) as { checks: { name: string; warn?: boolean; detail: string }[] };
      const broken = json.checks.find((check) => check.name === 'account' && check.detail.startsWith('C: '));
      expect(broken).toMatchObject({ warn: true });
    });
  });
});
