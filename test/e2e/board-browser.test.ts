import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type TestRedis } from '../helpers/redis.js';
import { repoRoot, withFleet, writeHarness } from '../helpers/fleet.js';
import { tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV } from '../helpers/chaos.js';

/** Debian's chromium, never a downloaded browser (see scripts/ensure-deps.mjs). */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'browser-test-token-0123456789';
const outputDir = path.join(repoRoot, 'test-output');

/**
 * A fresh profile per run; we run as root, hence --no-sandbox. Nothing leaves the machine: Bull Board's
 * page links a web font on fonts.googleapis.com, and that stylesheet, pending with no network, would
 * hold back its scripts. Always closed.
 */
async function withBrowser<T>(story: (context: BrowserContext) => Promise<T>): Promise<T> {
  const context = await chromium.launchPersistentContext(tempDir('chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    viewport: { width: 1280, height: 900 },
  });
  try {
    await context.route(
      (url) => url.hostname !== '127.0.0.1',
      (route) => route.abort('blockedbyclient'),
    );
    return await story(context);
  } finally {
    await context.close();
  }
}

let redis: TestRedis;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (as root: node scripts/ensure-deps.mjs --test)`);
  redis = await startRedis();
  mkdirSync(outputDir, { recursive: true });
});
afterAll(async () => {
  await redis?.stop();
});

describe('the board in a real browser', () => {
  it('refuses a visitor without the token, then shows a live run turning from running to succeeded, and Bull Board loads', async () => {
    const lines = [
      { type: 'system', subtype: 'init', session_id: 'browser-1', model: 'fake' },
      { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'notes.md', content: 'x' } }] } },
    ].map((l) => JSON.stringify(l));
    const done = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'wrote <notes>', num_turns: 3, total_cost_usd: 0.0125 });
    // Says what it does at once, works until the test has seen it running on the page and opens the gate,
    // then reports its result.
    const dir = tempDir('browser');
    const gate = path.join(dir, 'gate');
    const slow = `for (const l of ${JSON.stringify(lines)}) console.log(l); const t = setInterval(() => { if (require('fs').existsSync(process.argv[1])) { clearInterval(t); console.log(${JSON.stringify(done)}); } }, 25)`;
    const file = await writeHarness(dir, {
      name: 'watched',
      goal: 'Watch a member <em>live</em> on the board',
      agent: { kind: 'command', argv: [process.execPath, '-e', slow, gate] },
      team: [
        { name: 'writer', role: 'writes the notes', prompt: 'Write notes.md' },
        { name: 'quick', prompt: 'Be done at once', agent: { kind: 'command', argv: [process.execPath, '-e', `console.log(${JSON.stringify(done)})`] } },
      ],
    });

    await withFleet({ redisUrl: redis.url, env: { REINS_BOARD_TOKEN: TOKEN } }, async (fleet) => {
      const base = await fleet.startBoard(await freePort());
      await withBrowser(async (context) => {
        const page = await context.newPage();
        const dialogs: string[] = [];
        page.on('dialog', (dialog) => {
          dialogs.push(dialog.message());
          void dialog.dismiss();
        });

        // No token, no board.
        const refused = await page.goto(`${base}/runs`);
        expect(refused?.status()).toBe(401);
        expect(await page.textContent('body')).toContain('Authentication required');

        const submitted = await fleet.reins(['submit', file]);
        expect(submitted.exitCode, submitted.stderr).toBe(0);
        const runId = submitted.stdout.trim();

        // The token once, then the cookie: the address bar no longer holds it.
        const list = await page.goto(`${base}/runs?token=${TOKEN}`);
        expect(list?.status()).toBe(200);
        expect(page.url()).toBe(`${base}/runs`);
        await page.click(`a[href="/runs/${runId}"]`);
        await page.waitForURL(`${base}/runs/${runId}`);
        const writerStatus = page.locator('[data-member="writer"] h3 .badge');
        // The page is never reloaded: a marker on window would not survive a navigation.
        await page.evaluate(() => Object.assign(globalThis, { reinsMarker: 'same page' }));

        await expect.poll(() => writerStatus.textContent(), { timeout: 30_000 }).toBe('running');
        await expect.poll(() => page.locator('[data-member="writer"] [data-beat-at]').count(), { timeout: 30_000 }).toBe(1);
        await expect.poll(() => page.textContent('#live'), { timeout: 30_000 }).toBe('live');
        await page.screenshot({ path: path.join(outputDir, 'board-run-live.png'), fullPage: true });
        writeFileSync(gate, '');

        await expect.poll(() => writerStatus.textContent(), { timeout: 30_000 }).toBe('succeeded');
        await expect.poll(() => page.textContent('#live'), { timeout: 30_000 }).toBe('ended');
        expect(await page.evaluate(() => (globalThis as { reinsMarker?: string }).reinsMarker)).toBe('same page');
        const writer = page.locator('[data-member="writer"]');
        expect(await writer.textContent()).toContain('$0.0125');
        expect(await writer.locator('.events').textContent()).toContain('Write notes.md');
        expect(await page.textContent('#run-summary')).toContain('2 succeeded');
        // Markup in the goal and in agent output is shown as text.
        expect(await page.textContent('main')).toContain('Watch a member <em>live</em> on the board');
        expect(await page.locator('main em').count()).toBe(0);
        await page.screenshot({ path: path.join(outputDir, 'board-run.png'), fullPage: true });

        await page.goto(`${base}/runs`);
        expect(await page.locator(`tr[data-run="${runId}"] .badge`).textContent()).toBe('succeeded');
        await page.screenshot({ path: path.join(outputDir, 'board-runs.png'), fullPage: true });

        // Bull Board, over the reins queues, behind the same cookie.
        await page.goto(`${base}/queues`);
        await page.getByText('agent', { exact: true }).first().click({ timeout: 30_000 });
        expect(await page.title()).toBe('Bull Dashboard');
        // The agent queue lists the run's jobs (completed ones may sit behind a status tab).
        const completedTab = page.getByText(/^completed/i).first();
        if (await completedTab.isVisible().catch(() => false)) await completedTab.click();
        await page.getByText(`${runId}.writer`).first().waitFor({ timeout: 30_000 });
        await page.screenshot({ path: path.join(outputDir, 'board-queues.png') });
        expect(dialogs).toEqual([]);
      });
    });
  });

  it('draws the team as a graph and a timeline that follow a run live: a retry, a skipped member and one waiting for a worker with its labels', async () => {
    const dir = tempDir('team-graph');
    const done = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'done', num_turns: 1, total_cost_usd: 0.001 });
    const node = (script: string) => ({ kind: 'command', argv: [process.execPath, '-e', script] });
    // Fails its first attempt (the marker file is not there yet), succeeds on the retry.
    const flakyOnce = `const fs = require('fs'); const f = ${JSON.stringify(path.join(dir, 'flaky-ran'))}; if (!fs.existsSync(f)) { fs.writeFileSync(f, ''); console.error('first try fails'); process.exit(3); } console.log(${JSON.stringify(done)})`;
    const file = await writeHarness(dir, {
      name: 'team-at-a-glance',
      retry: { attempts: 2 },
      agent: node(`console.log(${JSON.stringify(done)})`),
      team: [
        { name: 'flaky', prompt: 'fail once', agent: node(flakyOnce) },
        { name: 'broken', prompt: 'always fail', agent: node('process.exit(1)') },
        { name: 'ship', prompt: 'after broken', depends_on: ['broken'] },
        { name: 'fit', prompt: 'needs a tpu', requires: ['tpu'] },
        { name: 'report', prompt: 'after both', depends_on: ['flaky', 'fit'] },
      ],
    });

    await withFleet({ redisUrl: redis.url, env: { ...CHAOS_ENV, REINS_BOARD_TOKEN: TOKEN } }, async (fleet) => {
      const base = await fleet.startBoard(await freePort());
      await withBrowser(async (context) => {
        const page = await context.newPage();
        const submitted = await fleet.reins(['submit', file]);
        expect(submitted.exitCode, submitted.stderr).toBe(0);
        const runId = submitted.stdout.trim();
        expect((await page.goto(`${base}/runs/${runId}?token=${TOKEN}`))?.status()).toBe(200);
        await page.evaluate(() => Object.assign(globalThis, { reinsMarker: 'same page' }));
        const box = (member: string) => page.locator(`#team-graph svg g.tg-node[data-node="${member}"]`);
        const lane = (member: string) => page.locator(`#team-timeline svg g.tl-row[data-lane="${member}"]`);

        // The graph: a box per member, an arrow per dependency, in three columns.
        expect(await page.locator('#team-graph svg g.tg-node').count()).toBe(5);
        expect(await page.locator('#team-graph svg path.tg-edge').count()).toBe(3);
        expect(await page.locator('#team-graph path.tg-edge[data-from="broken"][data-to="ship"]').count()).toBe(1);

        // It follows the run without a reload: the retry, the failure and its skipped dependant, the wait.
        await expect.poll(() => box('flaky').getAttribute('data-status'), { timeout: 30_000 }).toBe('succeeded');
        await expect.poll(() => box('ship').getAttribute('data-status'), { timeout: 30_000 }).toBe('skipped');
        expect(await box('broken').getAttribute('data-status')).toBe('failed');
        await expect.poll(() => box('fit').getAttribute('data-activity'), { timeout: 30_000 }).toBe('waiting');
        await expect.poll(() => page.locator('#team-graph .tg-why li[data-node="fit"]').textContent(), { timeout: 30_000 }).toContain('no live worker has the labels tpu');
        expect(await box('flaky').textContent()).toContain('attempt 2');
        expect(await box('report').getAttribute('data-status')).toBe('pending');

        // The timeline: flaky's failed attempt, the wait before its retry and the retry; broken's two
        // crashes; ship's skip; fit's wait under way.
        await expect.poll(() => lane('flaky').locator('rect.tl-succeeded').count(), { timeout: 30_000 }).toBe(1);
        expect(await lane('flaky').locator('rect.tl-failed').count()).toBe(1);
        expect(await lane('flaky').locator('rect.tl-backoff').count()).toBe(1);
        expect(await lane('flaky').locator('rect.tl-failed title').textContent()).toContain('attempt 1 on');
        expect(await lane('broken').locator('rect.tl-failed').count()).toBe(2);
        expect(await lane('ship').locator('.tl-skipped').count()).toBe(1);
        await expect.poll(() => lane('fit').locator('rect.tl-waiting').count(), { timeout: 30_000 }).toBe(1);
        expect(await page.textContent('#live')).toBe('live');
        await page.screenshot({ path: path.join(outputDir, 'board-team-live.png'), fullPage: true });
        await page.locator('#team-graph').screenshot({ path: path.join(outputDir, 'board-team-graph.png') });
        await page.locator('#team-timeline').screenshot({ path: path.join(outputDir, 'board-team-timeline.png') });

        // A worker with the label joins: fit runs, then report, and the run ends on the same page.
        await fleet.startWorker('tpu-host', { REINS_WORKER_LABELS: 'tpu' });
        await expect.poll(() => box('report').getAttribute('data-status'), { timeout: 30_000 }).toBe('succeeded');
        await expect.poll(() => page.textContent('#live'), { timeout: 30_000 }).toBe('ended');
        expect(await box('fit').getAttribute('data-status')).toBe('succeeded');
        expect(await page.locator('#team-graph g.tg-active').count()).toBe(0);
        expect(await lane('fit').locator('rect.tl-succeeded').count()).toBe(1);
        expect(await page.evaluate(() => (globalThis as { reinsMarker?: string }).reinsMarker)).toBe('same page');
        await page.screenshot({ path: path.join(outputDir, 'board-team-ended.png'), fullPage: true });

        // reins status draws the same team as a tree.
        const status = await fleet.reins(['status', runId], { env: { NO_COLOR: '1' } });
        expect(status.stdout).toContain('└─ report  succeeded  (also after fit)');
        expect(status.stdout).toContain('└─ ship  skipped');
      });
    });
  });
});
