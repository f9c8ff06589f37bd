// The public face of @reins/shared: what the apps (cli, scheduler, worker, board) import, and nothing more.
//
// Do not export from here:
// - names only tests use: a test imports the file itself ('../../libs/shared/src/spec/harness.js');
// - internals of a module: zod schemas of single fields or stream lines, Lua script sources, key strings,
//   the store's transition plumbing (memberTransition, newMemberFields), error classes whose type guard suffices;
// - anything "for later": a name joins this list when an app imports it, in the same commit.
// When a name here loses its last user in apps/, take it out.
export { loadConfig, defaultWorkerId, assertWorkableTimings, type ReinsConfig, type EnvName } from './config/env.js';
export { redactRedisUrl } from './redis/redis-url.js';
export { resolveClaudeBin, findOnPath } from './config/claude-bin.js';
export { beatIntervalMs, fenceAfterMs, lockRenewTimeMs, stopGraceMs } from './config/timings.js';
export { projectRoot } from './paths.js';
export { appBin } from './app-bins.js';
export { createKeys, type Keys } from './redis/keys.js';
export { createRedis, assertRedisReachable, checkRedisTarget, describeTopology, keyspaceNodes, type RedisConnection } from './redis/connection.js';
export { withScripts, type ReinsScripts } from './redis/scripts.js';
export { createLogger, type Logger } from './logger.js';
export { handleShutdownSignals, closeSteps, type CloseStep } from './shutdown.js';
export { formatCostUsd, formatDuration, formatAge, formatBytes, formatTokens, totalCostUsd, totalTokens, summaryLines } from './format.js';
export { escapeControlChars, escapeControlCharsDeep, terminalJson } from './control-chars.js';

export { ConfigError, isConfigError } from './errors/config-error.js';
export { isSpecError } from './errors/spec-error.js';
export { UsageError, isUsageError } from './errors/usage-error.js';
export { NotFoundError, isNotFoundError } from './errors/not-found-error.js';
export { RetryRefusedError, isRetryRefusedError } from './errors/retry-refused-error.js';
export { isRedisUnreachableError } from './errors/redis-unreachable-error.js';
export { isStaleEpochError } from './errors/stale-epoch-error.js';
export { renderIssues, issuesFromZod, MAX_REPORTED_ISSUES, type InputIssue } from './errors/issue.js';
export { showValue } from './errors/format.js';

export { ClaudeAgentSchema, dependencyOrder, type Harness, type Member, type ClaudeAgent, type CommandAgent, type Hooks, type Limits } from './spec/harness.js';
export { loadHarnessFile, type ResolvedHarness } from './spec/load.js';
export { redactRepoUrl } from './spec/repo.js';
export { packSkills } from './spec/skill-bundle.js';
export { checkSubmission, requireSubmission, submissionOf } from './spec/submission.js';
export { PLANNER_MEMBER, checkPlan, planJsonSchema, planningPrompt, planRetryPrompt } from './spec/plan.js';

export {
  QUEUES,
  addJob,
  parseJob,
  agentJobId,
  integrateJobId,
  parseAgentJobId,
  type QueueName,
  type AgentJobData,
  type AgentJobInput,
  type ParsedJobData,
  type IntegrateJobData,
  type Notification,
} from './jobs/catalogue.js';
export { KEEP_JOB_LOG_LINES, openQueue } from './jobs/queues.js';
export { AgentQueues, poolQueueName, poolLabels, servesQueue } from './jobs/pools.js';
export { backoffDelayMs, BACKOFF_TYPE, type BackoffPolicy } from './jobs/backoff.js';

export { newRunId, isRunId } from './runs/ids.js';
export { MEMBER_STATUSES, RUN_STATUSES, deriveRunStatus, isFinalMemberStatus, isFinalRunStatus, type MemberStatus, type RunStatus } from './runs/status.js';
export { RunStore } from './runs/store.js';
export { RunFiles } from './runs/run-files.js';
export { REDACTED, RunSecrets, SECRETS_UNCLAIMED_TTL_MS, revealEnv, secretNames, secretsForRetry, separateSecrets, type RunSecretValues } from './runs/run-secrets.js';
export { measureFolder, packFolder, unpackFolder } from './runs/folder-pack.js';
export {
  toRunView,
  toRunHead,
  type RunRecord,
  type RunHead,
  type MemberRecord,
  type RunView,
  type MemberView,
  type AgentEvent,
  type AttemptRecord,
  type Cursor,
} from './runs/records.js';
export { applyMemberEvent, type MemberEvent, type AttemptFigures } from './runs/member-state.js';
export { teamLayers, teamTree, memberActivity, type TeamLayers, type TeamEdge, type TeamTreeRow, type MemberActivity } from './runs/team-graph.js';
export { cancelIdleMembers, broadcastCancel } from './runs/cancel.js';
export { limitChanges, retryRun, type RetryOptions, type RetryResult } from './runs/retry.js';

export {
  parseStreamLine,
  describeEvent,
  isResult,
  isInit,
  isRateLimit,
  LineSplitter,
  MAX_LINE_BYTES,
  type SplitLine,
  type StreamEvent,
  type ApiRetryEvent,
  type ResultEvent,
  type OutputEvent,
  type RateLimitInfo,
} from './agent/stream-json.js';
export { tokensOf, UsageSchema, type Usage } from './agent/usage.js';
export { UNRECOVERABLE_CLASSES, type FailureClass } from './agent/failure-class.js';
export { TaskList, TaskError, type Task } from './coordination/tasks.js';
export { Mailbox, type Message } from './coordination/messages.js';
export { FleetReader, type HeartbeatInfo } from './fleet/fleet-reader.js';
export { FleetLimits } from './fleet/limits.js';
export { Budgets, type TokensSpent } from './fleet/budgets.js';
export { describeTokenBudget, hasTokenCaps, tokenBudgetReached, type TokenBudget, type TokenBudgetReached, type TokenCaps } from './fleet/token-budget.js';
export { AccountNameSchema, DEFAULT_ACCOUNT } from './accounts/account-name.js';
export { Accounts, accountOverview, usageDay, type AccountOverview, type AccountState, type AccountUsage, type AccountWindow } from './accounts/account-state.js';
export { chooseAccount, pausedUntil, utilizationOf, type Candidate, type Choice } from './accounts/choose.js';
export { tmuxAttachArgv, tmuxAttachCommand } from './tmux/attach-command.js';

export {
  encodeControlMessage,
  decodeControlMessage,
  WorkerRegistrationSchema,
  type WorkerRegistration,
  AgentJobResultSchema,
  type AgentJobResult,
  type IntegrationResult,
  AttemptMetaSchema,
  type AttemptMeta,
  AgentIdentityEnvSchema,
  identityEnv,
  readAgentIdentity,
  type AgentIdentity,
  encodePlan,
  decodePlan,
  AgentRequestSchema,
  AgentEnvelopeSchema,
  AGENT_REQUEST_MAX_BYTES,
  type AgentRequest,
  type ParsedAgentRequest,
  type AgentReply,
  type AgentRefusal,
  askWorker,
  WorkerUnreachableError,
} from './protocol/index.js';
