import { assertWorkableTimings, checkRedisTarget, createKeys, createLogger, defaultWorkerId, handleShutdownSignals, loadConfig } from '@reins/shared';
import { assertSocketsFit } from './attempt/agent-socket.js';
import { AgentWorker } from './worker.js';

const config = loadConfig();
assertWorkableTimings(config);
assertSocketsFit(config.dataDir);
// A Sentinel URL naming a master the sentinels do not know would otherwise retry in silence.
await checkRedisTarget(config.redisUrl);
const logger = createLogger({ name: 'reins-worker', level: config.logLevel });
const worker = new AgentWorker({
  config,
  keys: createKeys(config.prefix),
  logger,
  workerId: config.workerId ?? defaultWorkerId(),
  concurrency: config.workerConcurrency,
});
// The drain waits up to drainTimeoutMs for agents; the deadline leaves room to hand the rest back.
handleShutdownSignals({ logger, deadlineMs: config.drainTimeoutMs + 30_000, onShutdown: () => worker.close() });
await worker.start();
