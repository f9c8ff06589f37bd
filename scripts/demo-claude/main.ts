/**
 * `npm run demo:claude [-- --stay]`: examples/claude-team.yaml with the real Claude Code CLI, offline, against
 * the scripted Messages API beside this file. It is `reins up --run` (or, with --stay, `reins up` plus
 * `reins submit --wait`, leaving the fleet and the board up until Ctrl-C) with the API's address as
 * ANTHROPIC_BASE_URL. The model is a script: what the agents "decide" is fixed in scripted-api.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startScriptedApi } from './scripted-api.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const reins = path.join(root, 'apps/cli/bin/reins.js');
const harness = path.join(root, 'examples/claude-team.yaml');

const stay = process.argv.includes('--stay');
const stepDelayMs = Number(process.env.REINS_DEMO_STEP_MS ?? 1500);
const api = await startScriptedApi({ stepDelayMs: Number.isFinite(stepDelayMs) ? stepDelayMs : 1500 });

// The scripted API gets a made-up key: a real one set in this shell never leaves for a fake server.
const env: NodeJS.ProcessEnv = { ...process.env, ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: 'scripted-demo-no-key' };
for (const name of ['ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN']) delete env[name];

console.error(
  [
    `reins demo:claude: the real Claude Code CLI in tmux, against a SCRIPTED model at ${api.url}`,
    '  (scripts/demo-claude/scripted-api.ts plays each member; no API key, no network, the costs are from its token counts)',
    `  while it runs: npx reins runs, npx reins status RUN (the attach command), the board below${stay ? '' : '; add -- --stay to keep it all up afterwards'}`,
  ].join('\n'),
);

const exited = (child: ChildProcess) => new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1))));
let code: number;
if (!stay) {
  code = await exited(spawn(process.execPath, [reins, 'up', '--run', harness], { env, stdio: 'inherit' }));
} else {
  const up = spawn(process.execPath, [reins, 'up'], { env, stdio: ['ignore', 'inherit', 'pipe'] });
  const upExited = exited(up);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    up.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      seen += chunk.toString();
      if (seen.includes('Ctrl-C stops everything')) resolve();
    });
    void upExited.then((c) => reject(new Error(`reins up exited with code ${c}`)));
  });
  // The Redis reins up uses (REINS_REDIS_URL, or its own on the default address) is the one submit finds.
  const submitted = await exited(spawn(process.execPath, [reins, 'submit', harness, '--wait'], { env, stdio: 'inherit' }));
  console.error(`\nthe run ended (exit ${submitted}); the fleet and the board stay up: Ctrl-C stops them`);
  // Ctrl-C reaches reins up from the terminal itself; this process only waits for it to stop.
  process.on('SIGINT', () => undefined);
  await upExited;
  code = submitted;
}
await api.close();
process.exit(code);
