import { openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, redactRedisUrl } from '@reins/shared';
import { flagOverrides, parseCommandArgs } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { redisAnswers, startLocalRedis, type LocalRedis } from '../local-redis.js';
import { startRole, type RoleProcess } from '../roles.js';
import { help } from './submit.js';

export const UP_HELP = `Usage: reins up [--run FILE] [--port P] [--concurrency N]

Runs the whole fleet on this machine: the scheduler, a worker and the board. When REINS_REDIS_URL is
unset and nothing answers on 127.0.0.1:6379, it also starts redis-server (data in .reins/redis).
Role logs go to <data dir>/logs/. Ctrl-C stops everything.
  --run FILE   submit this harness, follow it, then stop; exit 0 if it succeeded`;

export async function up(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('up', argv, { run: { type: 'string' }, port: { type: 'string' }, concurrency: { type: 'string' } }, { min: 0, max: 0, names: 'no arguments' });
  if (values.help) return help(UP_HELP);
  const overrides = flagOverrides(values, { port: 'REINS_BOARD_PORT', concurrency: 'REINS_WORKER_CONCURRENCY' });
  let config = loadConfig(process.env, overrides);

  let redis: LocalRedis | undefined;
  const redisGiven = Boolean(overrides.REINS_REDIS_URL ?? process.env.REINS_REDIS_URL);
  if (!(await redisAnswers(config.redisUrl))) {
    if (redisGiven) throw new Error(`Cannot reach Redis at ${redactRedisUrl(config.redisUrl)} (REINS_REDIS_URL). Start it, or unset REINS_REDIS_URL to let reins start one.`);
    redis = await startLocalRedis(Number(new URL(config.redisUrl).port || 6379), path.resolve('.reins', 'redis'));
    console.error(`started redis-server at ${redis.url} (append-only, noeviction; data in .reins/redis)`);
  }
  const env = { ...process.env, ...overrides, REINS_REDIS_URL: redis?.url ?? config.redisUrl };
  config = loadConfig(env);

  const logDir = path.join(config.dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const roles: RoleProcess[] = (['scheduler', 'worker', 'board'] as const).map((role) => {
    const log = openSync(path.join(logDir, `${role}.log`), 'a');
    return startRole(role, env, [log, log]);
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const r of roles) r.child.kill('SIGTERM');
      await Promise.all(roles.map((r) => r.exited));
      await redis?.stop();
    })());
  const onSignal = () => {
    if (stopping) process.exit(130);
    console.error('\nstopping reins (Ctrl-C again to force)…');
    void stop().then(() => process.exit(EXIT.ok));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // A role that dies on its own takes the fleet down, loudly, rather than leaving half a fleet.
  const roleDied = Promise.race(roles.map((r) => r.exited.then((code) => ({ role: r.role, code }))));
  void roleDied.then(({ role, code }) => {
    if (stopping) return;
    console.error(`reins ${role} exited with code ${code}; see ${path.join(logDir, `${role}.log`)}`);
    void stop().then(() => process.exit(EXIT.failed));
  });

  console.error(
    [
      'reins is up',
      `  board:   http://${config.boardHost}:${config.boardPort}/`,
      `  redis:   ${redactRedisUrl(env.REINS_REDIS_URL)}`,
      `  data:    ${config.dataDir}`,
      `  logs:    ${logDir}/{scheduler,worker,board}.log`,
      values.run ? '' : '  submit:  npx reins submit examples/hello.yaml --wait   (in another terminal)\nCtrl-C stops everything.',
    ]
      .filter(Boolean)
      .join('\n'),
  );
  if (!values.run) return new Promise<ExitCode>(() => undefined);

  const { submit } = await import('./submit.js');
  const code = await submit([values.run, '--wait', '--redis-url', env.REINS_REDIS_URL, ...(values.prefix ? ['--prefix', values.prefix] : [])]);
  await stop();
  return code;
}
