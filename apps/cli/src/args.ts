import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type EnvName } from '@reins/shared';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every command takes; each stands for an environment variable and wins over it. */
export const GLOBAL_OPTIONS = {
  'redis-url': { type: 'string' },
  prefix: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const GLOBAL_FLAG_ENV: Record<string, EnvName> = {
  'redis-url': 'REINS_REDIS_URL',
  prefix: 'REINS_PREFIX',
  'data-dir': 'REINS_DATA_DIR',
};

export interface Parsed<O extends Options> {
  values: { [K in keyof (O & typeof GLOBAL_OPTIONS)]?: (O & typeof GLOBAL_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };
  positionals: string[];
}

/** Strict parsing: an unknown flag or a missing value is a UsageError (exit 2). */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, positionals: { min: number; max: number; names: string }): Parsed<O> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError(`reins ${command}: ${(error as Error).message.replace(/\. To specify a positional.*$/s, '')}`);
  }
  const count = parsed.positionals.length;
  if (!parsed.values.help && (count < positionals.min || count > positionals.max)) {
    throw new UsageError(`reins ${command}: expected ${positionals.names}, got ${count === 0 ? 'nothing' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  }
  return parsed as unknown as Parsed<O>;
}

/** Maps flags to the environment names they override, for loadConfig. */
export function flagOverrides(values: Record<string, unknown>, extra: Record<string, EnvName> = {}): Partial<Record<EnvName, string>> {
  const overrides: Partial<Record<EnvName, string>> = {};
  for (const [flag, env] of Object.entries({ ...GLOBAL_FLAG_ENV, ...extra })) {
    const value = values[flag];
    if (typeof value === 'string') overrides[env] = value;
  }
  return overrides;
}

/** A whole-number flag within bounds; anything else is a UsageError naming the flag and the value. */
export function intFlag(command: string, flag: string, value: string | undefined, bounds: { min: number; max: number; default: number }): number {
  if (value === undefined) return bounds.default;
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < bounds.min || parsed > bounds.max) {
    throw new UsageError(`reins ${command}: expected --${flag} to be a whole number from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}
