import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { escapeControlChars, escapeControlCharsDeep } from './control-chars.js';

export type { Logger } from 'pino';

/** Fields that may carry secrets, wherever they appear in a log object. */
const REDACT_PATHS = [
  'apiKey',
  'password',
  'token',
  'authorization',
  '*.apiKey',
  '*.password',
  '*.token',
  '*.authorization',
  'env.ANTHROPIC_API_KEY',
  'env.ANTHROPIC_AUTH_TOKEN',
  '*.env.ANTHROPIC_API_KEY',
  '*.env.ANTHROPIC_AUTH_TOKEN',
  'headers["x-api-key"]',
];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** 1 for stdout (the roles), 2 for stderr (the CLI, whose stdout is for results). */
  fd?: 1 | 2;
}

/**
 * Turns one pino JSON line into a pretty one for a terminal. Log lines carry agent data (errors, outputs,
 * member names): every string in the line, keys included, is escaped (control-chars.ts) before
 * pino-pretty colours it. pino-pretty 13.2 strips C0 and C1 controls from messages and stacks only; it
 * leaves the bidi overrides everywhere, and C1 controls in fields (JSON.stringify keeps them raw).
 */
export function prettyLogLine(options: { colorize: boolean }): (jsonLine: string) => string {
  const prettify = prettyFactory({ colorize: options.colorize, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' });
  return (jsonLine) => {
    let log: unknown;
    try {
      log = JSON.parse(jsonLine);
    } catch {
      return `${escapeControlChars(jsonLine.trimEnd())}\n`;
    }
    return prettify(escapeControlCharsDeep(log));
  };
}

/** pino JSON, or pretty lines when the destination is a terminal. */
export function createLogger({ name, level = 'info', fd = 1 }: LoggerOptions): Logger {
  const options = { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  const stream = fd === 1 ? process.stdout : process.stderr;
  if (stream.isTTY) {
    const pretty = prettyLogLine({ colorize: !process.env.NO_COLOR });
    const out = pino.destination({ fd, sync: true });
    const destination: DestinationStream = { write: (line) => void out.write(pretty(line)) };
    return pino(options, destination);
  }
  return pino(options, pino.destination({ fd, sync: false }));
}
