import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reinsBin, repoRoot, withFleet, writeHarness } from '../helpers/fleet.js';
import { claudeEnv, lastToolResults, scripted, startMessagesApi, toolResultText, type MessagesApi } from '../helpers/messages-api.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';
import { CHAOS_ENV, storeOf, waitFor, waitForRunEnd } from '../helpers/chaos.js';
import { startRedis } from '../helpers/redis.js';

// The real Claude Code CLI with the plugin in plugin/: its manifests, a marketplace install into a private HOME,
// and /reins:design in -p mode against the Messages API scripted to play a designer.
const claudeBin = path.join(repoRoot, 'node_modules/.bin/claude');
const pluginDir = path.join(repoRoot, 'plugin');

let api: MessagesApi;
let handler: Parameters<typeof startMessagesApi>[0]['handler'] = () => ({ text: 'no script' });
beforeAll(async () => {
  api = await startMessagesApi({ handler: (req) => handler(req) });
});
afterAll(async () => {
  await api?.close();
});

const claude = (args: string[], options: { cwd?: string; home?: string } = {}) =>
  execa(claudeBin, args, {
    cwd: options.cwd ?? repoRoot,
    env: { ...claudeEnv(api, options.home ?? tempDir('claude-home')), CLAUDE_CODE_MAX_RETRIES: '0' },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
  });

describe('the reins plugin for Claude Code', () => {
  it('passes claude plugin validate, and so does the marketplace manifest at the repository root', async () => {
    const plugin = await claude(['plugin', 'validate', pluginDir]);
    expect(plugin.exitCode, plugin.stdout + plugin.stderr).toBe(0);
    for (const provided of ['skills: reins:reins-harness', 'commands: reins:design', 'commands: reins:run', 'commands: reins:status']) expect(plugin.stdout).toContain(provided);
    const marketplace = await claude(['plugin', 'validate', repoRoot]);
    expect(marketplace.exitCode, marketplace.stdout + marketplace.stderr).toBe(0);
    expect(marketplace.stdout).toContain('Validating marketplace manifest');
    expect(marketplace.stdout).toContain('Validation passed');
  });

  it('installs from the marketplace into a private HOME, offline', async () => {
    const home = tempDir('plugin-home');
    const added = await claude(['plugin', 'marketplace', 'add', repoRoot], { home });
    expect(added.exitCode, added.stdout + added.stderr).toBe(0);
    expect(added.stdout).toContain('Successfully added marketplace: reins');
    const installed = await claude(['plugin', 'install', 'reins@reins'], { home });
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const listed = await claude(['plugin', 'list'], { home });
    expect(listed.stdout).toContain('reins@reins');
    expect(listed.stdout).toContain('enabled');
    expect(api.requests).toHaveLength(0);
  });

  it('/reins:design in -p mode writes a harness and a skill, and runs reins validate until it is clean', async () => {
    const dir = tempDir('design');
    const harnessFile = path.join(dir, 'harness.yaml');
    const harness = [
      'name: roman',
      'goal: A Roman numeral converter in Python, tested.',
      'skillPaths: [./skills]',
      'agent: { kind: claude, maxTurns: 30 }',
      'team:',
      '  - name: implementer',
      '    role: writes the module',
      '    prompt: Write roman.py (to_roman, from_roman) and test_roman.py. Run the tests until they pass.',
      '    skills: [python-style]',
      '  - name: reviewer',
      '    depends_on: [implementer]',
      '    prompt: Review roman.py against its tests and fix what is wrong.',
      'verify: { commands: [[python3, -m, pytest, -q]] }',
      'limits: { maxTurns: 40, runBudgetUsd: 5 }',
      '',
    ].join('\n');
    const skill = '---\nname: python-style\ndescription: How this team writes Python.\n---\nType hints, pytest, no globals.\n';
    handler = scripted([
      {
        text: 'Here is the design.',
        toolUse: [
          { name: 'Write', input: { file_path: harnessFile, content: harness } },
          { name: 'Write', input: { file_path: path.join(dir, 'skills/python-style/SKILL.md'), content: skill } },
        ],
      },
      { toolUse: [{ name: 'Bash', input: { command: `${JSON.stringify(process.execPath)} ${JSON.stringify(reinsBin)} validate harness.yaml`, description: 'validate the harness' } }] },
      { text: 'harness.yaml validates; run it with /reins:run harness.yaml.' },
    ]);
    const goal = 'convert roman numerals';
    const run = await claude(['-p', `/reins:design ${goal}`, '--plugin-dir', pluginDir, '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'], { cwd: dir });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const init = JSON.parse(run.stdout.split('\n')[0]!) as { slash_commands?: string[]; skills?: string[] };
    expect(init.slash_commands).toEqual(expect.arrayContaining(['reins:design', 'reins:run', 'reins:status']));
    expect(init.skills).toEqual(expect.arrayContaining(['reins:reins-harness']));

    // The plugin command was really loaded: the first request carries its body, with the goal in place of $ARGUMENTS.
    const body = await readFile(path.join(pluginDir, 'commands/design.md'), 'utf8');
    const first = JSON.stringify(api.requests.at(-3)!.body.messages);
    expect(first).toContain(JSON.stringify('You are helping a person design a **reins harness**').slice(1, -1));
    expect(first).toContain(`The goal the person gave: ${goal}`);
    expect(first).not.toContain('$ARGUMENTS');
    expect(body).toContain('$ARGUMENTS');

    // The Bash call ran reins validate, and the model was told it is clean.
    const validated = lastToolResults(api.requests.at(-1)!).map(toolResultText).join('\n');
    expect(validated).toContain('ok  roman: 2 members: implementer, reviewer (after implementer)');
    expect(existsSync(path.join(dir, 'skills/python-style/SKILL.md'))).toBe(true);
    const again = await execa(process.execPath, [reinsBin, 'validate', harnessFile, '--json'], { env: scratchEnv(), extendEnv: false, reject: false });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, issues: [] });
  });

  it('reins design opens Claude Code in tmux with the plugin and /reins:design begun; the person answers, the harness appears', async () => {
    const home = tempDir('design-home');
    const out = tempDir('design-out');
    const dataDir = tempDir('design-data');
    // The person's own Claude Code has been set up before (onboarding done, this folder trusted, the key approved).
    await writeFile(
      path.join(home, '.claude.json'),
      JSON.stringify({ hasCompletedOnboarding: true, theme: 'dark', customApiKeyResponses: { approved: ['test-key'], rejected: [] }, projects: { [out]: { hasTrustDialogAccepted: true } } }),
    );
    const harness = 'name: roman\nteam:\n  - name: writer\n    prompt: Write roman.py in Python.\n    agent: { kind: command, argv: ["true"] }\n';
    handler = scripted([
      { text: 'Which language should the team write in?' },
      { toolUse: [{ name: 'Write', input: { file_path: path.join(out, 'harness.yaml'), content: harness } }] },
      { text: 'harness.yaml is written.' },
    ]);
    const started = await execa(process.execPath, [reinsBin, 'design', 'a roman numeral converter', '--out', out], {
      env: { ...claudeEnv(api, home), REINS_DATA_DIR: dataDir, REINS_CLAUDE_BIN: claudeBin, CLAUDE_CODE_MAX_RETRIES: '0' },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    expect(started.exitCode, started.stderr).toBe(0);
    const attach = /^tmux -S (\S+) attach -t =(\S+)$/.exec(started.stdout.trim());
    expect(attach, started.stdout).not.toBeNull();
    const [, socket, session] = attach!;
    const tmux = (...args: string[]) => execa('tmux', ['-S', socket!, ...args], { reject: false });
    try {
      const screen = async () => (await tmux('capture-pane', '-p', '-t', `=${session}:`)).stdout;
      await waitFor(async () => (await screen()).includes('Which language should the team write in?'), 'the designer to ask its first question');
      // The first request carried the design command's body with the goal.
      expect(JSON.stringify(api.requests.at(-1)!.body.messages)).toContain('The goal the person gave: a roman numeral converter');
      await tmux('send-keys', '-t', `=${session}:`, '-l', 'Python, with pytest');
      await tmux('send-keys', '-t', `=${session}:`, 'Enter');
      await waitFor(() => existsSync(path.join(out, 'harness.yaml')), 'harness.yaml to be written', 60_000);
      expect(api.requests.some((r) => JSON.stringify(r.body.messages).includes('Python, with pytest'))).toBe(true);
      const validated = await execa(process.execPath, [reinsBin, 'validate', path.join(out, 'harness.yaml')], { env: scratchEnv(), extendEnv: false, reject: false });
      expect(validated.exitCode, validated.stderr).toBe(0);
    } finally {
      await tmux('kill-server');
    }
  });

  it('/reins:run validates and submits the harness to the fleet, and the run succeeds', async () => {
    const redis = await startRedis();
    try {
      await withFleet({ redisUrl: redis.url, env: CHAOS_ENV }, async (fleet) => {
        const dir = tempDir('plugin-run');
        const harnessFile = await writeHarness(dir, { name: 'ran-by-claude', team: [{ name: 'solo', prompt: 'succeed', agent: { kind: 'command', argv: ['true'] } }] });
        const reins = `${JSON.stringify(process.execPath)} ${JSON.stringify(reinsBin)}`;
        handler = scripted([
          { toolUse: [{ name: 'Bash', input: { command: `${reins} validate harness.yaml`, description: 'validate' } }] },
          { toolUse: [{ name: 'Bash', input: { command: `${reins} submit harness.yaml --json`, description: 'submit' } }] },
          { text: 'Submitted; follow it with reins status.' },
        ]);
        // The fleet's address reaches the CLI's Bash tool the way a person's shell would give it.
        const env = { ...claudeEnv(api, tempDir('run-home')), CLAUDE_CODE_MAX_RETRIES: '0', REINS_REDIS_URL: redis.url, REINS_PREFIX: fleet.prefix };
        const run = await execa(claudeBin, ['-p', '/reins:run harness.yaml', '--plugin-dir', pluginDir, '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'], {
          cwd: dir,
          env,
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
          timeout: 120_000,
        });
        expect(run.exitCode, run.stdout + run.stderr).toBe(0);
        // The command's body went to the model, and its two Bash calls ran reins.
        expect(JSON.stringify(api.requests.at(-3)!.body.messages)).toContain('The harness file: harness.yaml');
        expect(lastToolResults(api.requests.at(-2)!).map(toolResultText).join('\n')).toContain('ok  ran-by-claude');
        const submitted = lastToolResults(api.requests.at(-1)!).map(toolResultText).join('\n');
        const runId = /"runId":"(r-[a-z0-9]+)"/.exec(submitted)?.[1];
        expect(runId, submitted).toBeDefined();
        const view = await waitForRunEnd(storeOf(redis.client, fleet), runId!);
        expect(view.status).toBe('succeeded');
        expect(harnessFile).toBe(path.join(dir, 'harness.yaml'));
      });
    } finally {
      await redis.stop();
    }
  });
});
