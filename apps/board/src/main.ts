import type { Server } from 'node:http';
import { QUEUES, createKeys, createLogger, createRedis, handleShutdownSignals, loadConfig, openQueue } from '@reins/shared';
import { createBoardApp } from './app.js';

const config = loadConfig();
const logger = createLogger({ name: 'reins-board', level: config.logLevel });
const keys = createKeys(config.prefix);
const redis = createRedis(config.redisUrl, 'blocking');
const queues = Object.values(QUEUES).map((name) => openQueue(name, redis, keys));
const app = createBoardApp(queues);

const server: Server = app.listen(config.boardPort, config.boardHost, () => {
  logger.info({ url: `http://${config.boardHost}:${config.boardPort}/` }, 'board listening');
});
server.on('error', (error) => {
  logger.fatal({ err: error }, 'board cannot listen');
  process.exit(1);
});
handleShutdownSignals({
  logger,
  deadlineMs: 10_000,
  onShutdown: async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(queues.map((q) => q.close()));
    await redis.quit();
  },
});
