import type { Server } from 'node:http';
import { Accounts, FleetReader, AgentQueues, QUEUES, RunStore, createKeys, createLogger, createRedis, handleShutdownSignals, isConfigError, loadConfig, openQueue } from '@reins/shared';
import { createBoardApp } from './app.js';
import { boardAccess, changesAllowed, type BoardAccess } from './access/board-access.js';
import type { ReinsConfig } from '@reins/shared';

let config: ReinsConfig;
let access: BoardAccess;
try {
  config = loadConfig();
  access = boardAccess(config);
} catch (error) {
  if (!isConfigError(error)) throw error;
  // Exit 2, as for any invalid input: the CLI passes it on, and nothing was started.
  process.stderr.write(`reins board: ${error.message}\n`);
  process.exit(2);
}

const logger = createLogger({ name: 'reins-board', level: config.logLevel });
const keys = createKeys(config.prefix);
// Retries the connection for ever (the board outlives Redis restarts) but fails a command after one
// retry, so a page or a scrape during an outage answers with an error instead of hanging. Auto-
// pipelining batches the many small reads of a page or a scrape into few round trips.
const redis = createRedis(config.redisUrl, 'blocking', { maxRetriesPerRequest: 1, enableAutoPipelining: true });
redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
// Opened read-only: opening writes no queue meta, so merely watching changes nothing in Redis.
const queues = Object.values(QUEUES).map((name) => openQueue(name, redis, keys, { readOnly: true }));
const pools = new AgentQueues(redis, keys, { readOnly: true });
const poolQueues = async () => (await redis.smembers(keys.pools)).map((name) => pools.get(name));
const app = createBoardApp({ queues, store: new RunStore(redis, keys), fleet: new FleetReader(redis, keys), accounts: new Accounts(redis, keys, config.heartbeatTtlMs), access, logger, poolQueues });

const server: Server = app.listen(config.boardPort, config.boardHost, () => {
  const auth = access.token ? 'token' : access.basic ? 'basic' : 'none (loopback only)';
  logger.info({ url: `http://${config.boardHost}:${config.boardPort}/`, auth, readOnly: access.readOnly, bullBoardChanges: changesAllowed(access) }, 'board listening');
});
server.on('error', (error) => {
  logger.fatal({ err: error }, 'board cannot listen');
  process.exit(1);
});
handleShutdownSignals({
  logger,
  deadlineMs: 10_000,
  onShutdown: async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Live run streams never end on their own; without this, close() would wait for the deadline.
    server.closeAllConnections();
    await closed;
    await Promise.all(queues.map((q) => q.close()));
    await redis.quit();
  },
});
