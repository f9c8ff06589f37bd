import { UNRECOVERABLE_CLASSES, type FailureClass, type RateLimitInfo, type ResultEvent } from '@reins/shared';

/** How an attempt ended, as the worker reports it. */
export type AgentOutcome =
  | { ok: true; result: ResultEvent | undefined; exitCode: number | null }
  | {
      ok: false;
      failureClass: FailureClass;
      message: string;
      retryable: boolean;
      /** For rate limits with a known reset time (epoch ms). */
      resetAt?: number;
      result: ResultEvent | undefined;
      exitCode: number | null;
    };

export interface EndedAttempt {
  result: ResultEvent | undefined;
  /** A subscription's last usage report: a rejected window says when it resets. */
  rateLimit?: RateLimitInfo | undefined;
  /** null when the process vanished without writing its exit code. */
  exitCode: number | null;
  stderrTail: string;
}

function failure(failureClass: FailureClass, message: string, ended: EndedAttempt, extra: { resetAt?: number } = {}): AgentOutcome {
  return { ok: false, failureClass, message, retryable: !UNRECOVERABLE_CLASSES.has(failureClass), result: ended.result, exitCode: ended.exitCode, ...extra };
}

/** "You've hit your limit · resets 3pm", "You've hit your 5-hour limit · resets 9:30pm (UTC)". */
const LIMIT_TEXT = /hit your (?:[\w-]+ )?limit[^\n]*?resets\s+([^\n]+)/i;
/** What Claude Code prints when it has no credentials, or the API refused them. */
const AUTH_TEXT = /not logged in|please run \/login|invalid api key|invalid x-api-key|oauth token (?:has )?(?:expired|revoked)|authentication_error/i;

/** "resets 3pm", "resets 15:00 (UTC)", "resets 2026-11-24T15:00:00Z": the next such moment, or undefined. */
export function parseResetTime(text: string, now = new Date()): number | undefined {
  const match = LIMIT_TEXT.exec(text);
  if (!match) return undefined;
  const raw = (match[1] ?? '').trim().replace(/[.)]+$/, '');
  // Only ISO dates go to Date.parse: V8 reads "5" or "9 (UTC)" as dates in 2001.
  if (/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    const iso = Date.parse(raw);
    return Number.isNaN(iso) || iso <= now.getTime() ? undefined : iso;
  }
  const clock = /^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?/i.exec(raw);
  if (!clock) return undefined;
  let hours = Number(clock[1]);
  const minutes = Number(clock[2] ?? 0);
  const meridiem = clock[3]?.toLowerCase();
  if (meridiem === 'pm' && hours < 12) hours += 12;
  if (meridiem === 'am' && hours === 12) hours = 0;
  if (hours > 23 || minutes > 59) return undefined;
  const utc = /utc/i.test(raw);
  const at = new Date(now);
  if (utc) at.setUTCHours(hours, minutes, 0, 0);
  else at.setHours(hours, minutes, 0, 0);
  if (at.getTime() <= now.getTime()) at.setTime(at.getTime() + 24 * 3600 * 1000);
  return at.getTime();
}

function statusClass(status: number): FailureClass {
  if (status === 429) return 'rate_limit';
  if (status === 529) return 'overloaded';
  if (status >= 500) return 'api_5xx';
  if (status === 401 || status === 403) return 'auth';
  return 'bad_request';
}

/**
 * A claude attempt succeeded only when its result line says is_error:false with no permission denials.
 * Everything else gets a class, from the result's api_error_status and subtype, or from the missing result.
 */
export function classifyClaude(ended: EndedAttempt): AgentOutcome {
  const { result } = ended;
  const denials = result?.permission_denials ?? [];
  // Success first: a successful answer may well quote the usage-limit message.
  if (result && !result.is_error && denials.length === 0) return { ok: true, result, exitCode: ended.exitCode };
  const limitText = `${result?.result ?? ''}\n${ended.stderrTail}`;
  // The window's own reset time beats the one printed ("resets 9:30pm" says no day, and is rounded).
  const rejectedAt = ended.rateLimit?.status === 'rejected' && ended.rateLimit.resetsAt ? ended.rateLimit.resetsAt * 1000 : undefined;
  if (rejectedAt !== undefined && (LIMIT_TEXT.test(limitText) || result?.api_error_status === 429)) {
    return failure('rate_limit', `usage limit reached: the ${ended.rateLimit?.rateLimitType ?? 'usage'} window was rejected, resets at ${new Date(rejectedAt).toISOString()}`, ended, { resetAt: rejectedAt });
  }
  if (LIMIT_TEXT.test(limitText)) {
    const resetAt = parseResetTime(limitText);
    return failure('rate_limit', `usage limit reached${resetAt ? `, resets at ${new Date(resetAt).toISOString()}` : ''}`, ended, resetAt ? { resetAt } : {});
  }
  // With an API status, the status says it (below); without one, "Not logged in" is still an auth failure, not a crash.
  if (AUTH_TEXT.test(limitText) && !result?.api_error_status) {
    const said = (result?.result ?? ended.stderrTail).trim().split('\n').slice(-2).join(' | ');
    return failure('auth', `the credentials were refused: ${said}`, ended);
  }
  if (!result) {
    const tail = ended.stderrTail.trim().split('\n').slice(-3).join(' | ');
    const how = ended.exitCode === null ? 'vanished' : `exited with code ${ended.exitCode}`;
    return failure('crash', `claude ${how} without a result line${tail ? `: ${tail}` : ''}`, ended);
  }
  if (denials.length > 0) {
    const listed = denials.map((d) => (d && typeof d === 'object' && 'tool_name' in d ? String((d as { tool_name: unknown }).tool_name) : JSON.stringify(d))).join(', ');
    return failure('permission_denied', `permission denied for: ${listed}`, ended);
  }
  const text = (result.result ?? (result.errors ?? []).map(String).join('; ')).trim();
  const status = result.api_error_status ?? undefined;
  const described = `${result.subtype}${status ? `, API status ${status}` : ''}${result.terminal_reason ? `, ${result.terminal_reason}` : ''}${text ? `: ${text}` : ''}`;
  if (status) return failure(statusClass(status), described, ended);
  if (result.subtype === 'error_max_turns') return failure('max_turns', described, ended);
  if (result.subtype === 'error_max_budget_usd') return failure('budget', described, ended);
  return failure('crash', described, ended);
}

/** A command agent succeeds on exit 0; a result line it printed, if any, is kept for its figures. */
export function classifyCommand(ended: EndedAttempt): AgentOutcome {
  if (ended.exitCode === 0) return { ok: true, result: ended.result, exitCode: 0 };
  const tail = ended.stderrTail.trim().split('\n').slice(-3).join(' | ');
  const how = ended.exitCode === null ? 'vanished without an exit code' : `exited with code ${ended.exitCode}`;
  return failure('crash', `command ${how}${tail ? `: ${tail}` : ''}`, ended);
}
