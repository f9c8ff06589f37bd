import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

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

/** pino JSON, or pretty lines when the destination is a terminal. */
export function createLogger({ name, level = 'info', fd = 1 }: LoggerOptions): Logger {
  const options = { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  const stream = fd === 1 ? process.stdout : process.stderr;
  if (stream.isTTY) {
    return pino(options, pretty({ destination: fd, sync: true, colorize: !process.env.NO_COLOR, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(options, pino.destination({ fd, sync: false }));
}
