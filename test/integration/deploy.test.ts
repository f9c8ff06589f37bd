import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@reins/shared';
import { ENV_NAMES } from '../../libs/shared/src/config/env.js';
import { boardAccess } from '../../apps/board/src/access/board-access.js';
import { isLoopbackHost } from '../../apps/board/src/access/loopback.js';
import { reinsBin, repoRoot } from '../helpers/fleet.js';
import { freePort } from '../helpers/redis.js';
import { tempDir } from '../helpers/test-root.js';

/**
 * Docker cannot run on the test machines, so the deployment files are checked here against what they
 * drive: the compose file against the compose-spec schema and the real `reins` CLI, the redis command
 * against a real redis-server, the Dockerfile against the repository and .dockerignore, and the systemd
 * units with systemd-analyze where it exists.
 */

import {
  read,
  SAMPLE_TOKEN,
  type Env,
  type Service,
  type ComposeFile,
  loadCompose,
  goDurationMs,
  composeValidator,
  reinsHelp,
  expectReinsCommand,
  dockerfileStages,
  dockerIgnore,
  filesUnder,
  parseUnit,
  unitValue,
  systemdSpanMs,
  parseEnvFile,
  workerHandBackMs,
} from '../helpers/deploy-files.js';

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
