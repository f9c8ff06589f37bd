// Every contract that crosses a process, as a zod schema: what one process writes and another reads.
// Job payloads live with their queues in jobs/catalogue.ts; Redis records in runs/records.ts.
export { ControlMessageSchema, encodeControlMessage, decodeControlMessage, type ControlMessage } from './control-message.js';
export { WorkerRegistrationSchema, type WorkerRegistration } from './worker-registration.js';
export { AgentJobResultSchema, IntegrationResultSchema, type AgentJobResult, type IntegrationResult } from './agent-job-result.js';
export { AttemptMetaSchema, type AttemptMeta } from './attempt-meta.js';
export { AgentIdentityEnvSchema, identityEnv, readAgentIdentity, type AgentIdentity, type AgentIdentityEnv } from './agent-identity.js';
export { StoredPlanSchema, encodePlan, decodePlan } from './plan.js';
export { AgentRequestSchema, AgentEnvelopeSchema, AGENT_REQUEST_MAX_BYTES, type AgentRequest, type ParsedAgentRequest, type AgentReply, type AgentRefusal } from './agent-request.js';
export { askWorker, WorkerUnreachableError } from './agent-client.js';
