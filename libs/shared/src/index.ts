// The public face of @reins/shared. Internals (zod schemas of single stream lines, formatting helpers)
// stay unexported unless an app needs them.
export { loadConfig, defaultWorkerId, redactRedisUrl, ENV_NAMES, type ReinsConfig, type EnvName } from './config/env.js';
export { resolveClaudeBin, findOnPath } from './config/claude-bin.js';
export { fenceAfterMs, stopGraceMs, smallestWorkingTtlMs, LEASE_CHECK_MS } from './config/timings.js';
export { projectRoot } from './paths.js';
export { appBin, type AppName } from './app-bins.js';
export { createKeys, type Keys } from './redis/keys.js';
export { createRedis, assertRedisReachable, type ConnectionRole } from './redis/connection.js';
export { createLogger, type Logger } from './logger.js';
export { handleShutdownSignals, closeSteps, type CloseStep } from './shutdown.js';

export { ConfigError, isConfigError } from './errors/config-error.js';
export { SpecError, isSpecError } from './errors/spec-error.js';
export { UsageError, isUsageError } from './errors/usage-error.js';
export { NotFoundError, isNotFoundError } from './errors/not-found-error.js';
export { RedisUnreachableError, isRedisUnreachableError } from './errors/redis-unreachable-error.js';
export { showValue } from './errors/format.js';
export type { InputIssue } from './errors/issue.js';

export {
  HarnessSchema,
  AgentSchema,
  MAX_PROMPT_BYTES,
  MAX_TEAM_SIZE,
  dependencyOrder,
  teamGraphIssues,
  type Harness,
  type Member,
  type Agent,
  type ClaudeAgent,
  type CommandAgent,
} from './spec/harness.js';
export { loadHarnessFile, resolveHarness, type ResolvedHarness, type LoadOptions } from './spec/load.js';
export { readSkillCatalogue, readSkill, type SkillInfo } from './spec/skills.js';

export {
  QUEUES,
  JOB_CATALOGUE,
  addJob,
  parseJob,
  agentJobId,
  integrateJobId,
  parseAgentJobId,
  type QueueName,
  type JobName,
  type JobData,
  type AgentJobData,
  type AgentJobInput,
  type ParsedJobData,
  type RunSubmitData,
  type IntegrateJobData,
  type Notification,
  type NotifyEvent,
  NOTIFY_EVENTS,
} from './jobs/catalogue.js';
export { openQueue, KEEP_FINISHED_JOBS } from './jobs/queues.js';

export { newRunId } from './runs/ids.js';
export {
  MEMBER_STATUSES,
  RUN_STATUSES,
  deriveRunStatus,
  isFinalMemberStatus,
  isFinalRunStatus,
  type MemberStatus,
  type RunStatus,
} from './runs/status.js';
export { RunStore, type Applied } from './runs/store.js';
export { toRunView, type RunRecord, type MemberRecord, type RunView, type MemberView, type AgentEvent, type AttemptRecord, type Cursor } from './runs/records.js';
export { applyMemberEvent, memberTransition, type MemberEvent, type MemberEventType, type AttemptFigures } from './runs/member-state.js';
export { withScripts, type ReinsScripts } from './redis/scripts.js';
export { StaleEpochError, isStaleEpochError } from './errors/stale-epoch-error.js';

export {
  parseStreamLine,
  describeEvent,
  toolTarget,
  isResult,
  isInit,
  LineSplitter,
  type StreamEvent,
  type ResultEvent,
  type InitEvent,
  type EventLine,
} from './agent/stream-json.js';
export { FAILURE_CLASSES, UNRECOVERABLE_CLASSES, type FailureClass } from './agent/failure-class.js';
export { cancelIdleMembers, broadcastCancel } from './runs/cancel.js';
export { backoffDelayMs, BACKOFF_TYPE, type BackoffPolicy } from './jobs/backoff.js';
export { TaskList, TaskError, type Task } from './coordination/tasks.js';
export { Mailbox, type Message } from './coordination/messages.js';
export { PLANNER_MEMBER, PlanSchema, checkPlan, planJsonSchema, planningPrompt, planRetryPrompt, type Plan, type PlanCheck } from './spec/plan.js';
export { VerifySchema, HooksSchema, TeamSchema, ClaudeAgentSchema, type Verify, type Hooks } from './spec/harness.js';
export { FleetReader, type HeartbeatInfo, type RunHead } from './fleet/fleet-reader.js';
export * from './protocol/index.js';
export { retryRun, type RetryResult } from './runs/retry.js';
export { RetryRefusedError, isRetryRefusedError } from './errors/retry-refused-error.js';
export { tmuxAttachArgv, tmuxAttachCommand, shellQuote } from './tmux/attach-command.js';
export { FleetLimits } from './fleet/limits.js';
export { Budgets, budgetDay, type Reservation, type BudgetState } from './fleet/budgets.js';
export { AgentQueues, poolQueueName, poolLabels, servesQueue } from './jobs/pools.js';
