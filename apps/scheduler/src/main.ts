import { createKeys, createLogger, handleShutdownSignals, loadConfig } from '@reins/shared';
import { Scheduler } from './scheduler.js';

const config = loadConfig();
const logger = createLogger({ name: 'reins-scheduler', level: config.logLevel });
const scheduler = new Scheduler({ config, keys: createKeys(config.prefix), logger });
handleShutdownSignals({ logger, deadlineMs: 15_000, onShutdown: () => scheduler.close() });
await scheduler.start();
