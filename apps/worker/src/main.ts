import { appBin, assertWorkableTimings, checkRedisTarget, createKeys, createLogger, defaultWorkerId, handleShutdownSignals, isConfigError, loadConfig, type ReinsConfig } from '@reins/shared';
import { loadAccounts, type HeldAccount } from './accounts.js';
import path from 'node:path';
import { assertReachable, resolveAgentGroup, resolveAgentUser } from './agent-user.js';
import { AgentUsers } from './agent-users.js';
import { hookEntry } from './attempt-kit.js';
import { assertSocketsFit } from './attempt/agent-socket.js';
import { isWorkerIdTakenError, type WorkerIdTakenError } from './registration.js';
import { AgentWorker } from './worker.js';

/** Exit status of a worker whose id another live worker holds: as for any input that cannot run (`reins worker` passes it on). */
const EXIT_ID_TAKEN = 2;

let config: ReinsConfig;
let accounts: HeldAccount[];
let agentUsers: AgentUsers;
try {
  config = loadConfig();
  assertWorkableTimings(config);
  assertSocketsFit(config.dataDir);
  accounts = await loadAccounts(config.accountsFile, process.env);
  const dir = path.join(config.dataDir, 'agent-users');
  if (config.agentGroup !== undefined) {
    agentUsers = new AgentUsers(await resolveAgentGroup(config.agentGroup, { agentUser: config.agentUser, concurrency: config.workerConcurrency }), true, dir);
  } else {
    const one = await resolveAgentUser(config.agentUser);
    agentUsers = one ? new AgentUsers([one], false, dir) : AgentUsers.none();
  }
  await assertReachable(agentUsers.users[0], config.dataDir, [
    { file: process.execPath, need: 'run' },
    { file: appBin('cli', 'reins'), need: 'read' },
    { file: hookEntry(), need: 'read' },
  ]);
} catch (error) {
  if (!isConfigError(error)) throw error;
  // Exit 2, as for any invalid input: nothing was started (and no secret is in the message).
  process.stderr.write(`reins worker: ${error.message}\n`);
  process.exit(2);
}
// A Sentinel URL naming a master the sentinels do not know would otherwise retry in silence.
await checkRedisTarget(config.redisUrl);
const logger = createLogger({ name: 'reins-worker', level: config.logLevel });
const refuse = (error: WorkerIdTakenError): void => {
  logger.error({ workerId: error.workerId, holder: error.holder && { host: error.holder.host, pid: error.holder.pid } }, 'worker id taken');
  console.error(`reins worker: ${error.message}`);
};
const worker = new AgentWorker({
  config,
  keys: createKeys(config.prefix),
  logger,
  workerId: config.workerId ?? defaultWorkerId(),
  concurrency: config.workerConcurrency,
  accounts,
  agentUsers,
  // The worker has stopped its agents; it closes (handing their jobs back), then the process ends.
  onIdLost: () => void worker.close().finally(() => process.exit(EXIT_ID_TAKEN)),
});
// The drain waits up to drainTimeoutMs for agents; the deadline leaves room to hand the rest back.
handleShutdownSignals({ logger, deadlineMs: config.drainTimeoutMs + 30_000, onShutdown: () => worker.close() });
try {
  await worker.start();
} catch (error) {
  if (!isWorkerIdTakenError(error)) throw error;
  // start() has closed the worker: nothing of it is left to stop.
  refuse(error);
  process.exit(EXIT_ID_TAKEN);
}
