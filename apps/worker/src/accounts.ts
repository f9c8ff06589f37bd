import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AccountNameSchema, ConfigError, DEFAULT_ACCOUNT, issuesFromZod, type InputIssue } from '@reins/shared';

/** The variables an account's `env` may set: three kinds of credential and where to send them. */
export const CREDENTIAL_VARS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;
const ACCOUNT_VARS = [...CREDENTIAL_VARS, 'ANTHROPIC_BASE_URL'] as const;

/** Larger than any list of accounts a fleet has: refused before it is parsed. */
const MAX_FILE_BYTES = 256 * 1024;

const secret = z
  .string()
  .min(1, 'expected a non-empty secret')
  .regex(/^[\x21-\x7e]+$/, 'expected printable characters without spaces');
const AccountSchema = z.strictObject({
  name: AccountNameSchema,
  env: z
    .strictObject({
      ANTHROPIC_API_KEY: secret.optional(),
      ANTHROPIC_AUTH_TOKEN: secret.optional(),
      CLAUDE_CODE_OAUTH_TOKEN: secret.optional(),
      ANTHROPIC_BASE_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    })
    .refine((env) => CREDENTIAL_VARS.some((name) => env[name] !== undefined), { message: `expected one of ${CREDENTIAL_VARS.join(', ')}` }),
  /** At most this many agents under it at once, fleet-wide. */
  max: z.number().int().min(1).max(10_000).optional(),
});
const AccountsFileSchema = z.strictObject({ accounts: z.array(AccountSchema).min(1, 'expected at least 1 account').max(100, 'expected at most 100 accounts') });

/** One account this worker holds: its name, its secrets (here only, never in Redis), its cap. */
export interface HeldAccount {
  name: string;
  env: Partial<Record<(typeof ACCOUNT_VARS)[number], string>>;
  max: number | undefined;
  /** Where its secrets were set: what a message about a refused credential tells the user to fix. */
  source: string;
  /** A hash of its env: tells a broken mark made with other credentials from one made with these. */
  fingerprint: string;
}

const fingerprint = (env: Record<string, string | undefined>): string =>
  createHash('sha256')
    .update(JSON.stringify(Object.entries(env).sort()))
    .digest('hex')
    .slice(0, 16);

/** A copy of the file's value with every secret replaced, so no error message can echo one. */
function redacted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redacted);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, (CREDENTIAL_VARS as readonly string[]).includes(k) && v !== '' && v !== null && v !== undefined ? '[redacted]' : redacted(v)]));
}

/**
 * The accounts a worker holds: those of REINS_ACCOUNTS_FILE, or else one named `default` from its own
 * environment (as before accounts: the environment's credentials, perhaps none). A bad file is refused
 * with a ConfigError naming the entry and the field, never a secret.
 */
export async function loadAccounts(file: string | undefined, workerEnv: NodeJS.ProcessEnv): Promise<HeldAccount[]> {
  if (file === undefined) {
    const env = Object.fromEntries(ACCOUNT_VARS.flatMap((name) => (workerEnv[name] ? [[name, workerEnv[name]]] : [])));
    return [{ name: DEFAULT_ACCOUNT, env, max: undefined, source: "the worker's environment", fingerprint: fingerprint(env) }];
  }
  const where = `REINS_ACCOUNTS_FILE (${file})`;
  const refuse = (issues: InputIssue[]): never => {
    throw new ConfigError(issues.map((i) => ({ ...i, path: `${where}${i.path ? ` ${i.path}` : ''}` })));
  };
  const size = await stat(file).then(
    (s) => s.size,
    (error: NodeJS.ErrnoException) => refuse([{ path: '', message: `cannot read the file: ${error.code ?? error.message}` }]),
  );
  if (size > MAX_FILE_BYTES) refuse([{ path: '', message: `expected at most ${MAX_FILE_BYTES} bytes, got ${size}` }]);
  let value: unknown;
  try {
    value = parseYaml(await readFile(file, 'utf8'), { maxAliasCount: 100 });
  } catch (error) {
    refuse([{ path: '', message: `expected YAML: ${(error as Error).message.split('\n')[0]}` }]);
  }
  const parsed = AccountsFileSchema.safeParse(value);
  if (!parsed.success) refuse(issuesFromZod(parsed.error, redacted(value), AccountsFileSchema).map(withEntryName(value)));
  const accounts = parsed.data!.accounts;
  const seen = new Map<string, number>();
  for (const [i, account] of accounts.entries()) {
    const first = seen.get(account.name);
    if (first !== undefined) refuse([{ path: `accounts[${i}].name`, message: `expected a name of its own: "${account.name}" is the name of accounts[${first}] too` }]);
    seen.set(account.name, i);
  }
  return accounts.map((a) => ({ name: a.name, env: a.env, max: a.max, source: `${where}, account "${a.name}"`, fingerprint: fingerprint(a.env) }));
}

/** "accounts[1].env.X" gets the entry's name beside it, when it has one: easier to find in a long file. */
const withEntryName =
  (value: unknown) =>
  (issue: InputIssue): InputIssue => {
    const index = /^accounts\[(\d+)\]/.exec(issue.path)?.[1];
    const entry = index === undefined ? undefined : (value as { accounts?: { name?: unknown }[] })?.accounts?.[Number(index)];
    return typeof entry?.name === 'string' && AccountNameSchema.safeParse(entry.name).success ? { ...issue, path: issue.path.replace(/^accounts\[\d+\]/, (m) => `${m} (${entry.name})`) } : issue;
  };

/** What to tell a user whose account's credentials were refused. */
export function credentialAdvice(account: HeldAccount): string {
  if (account.name === DEFAULT_ACCOUNT && !account.source.startsWith('REINS_ACCOUNTS_FILE')) {
    return `set ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or CLAUDE_CODE_OAUTH_TOKEN in the worker's environment, or name an accounts file in REINS_ACCOUNTS_FILE, then restart the worker`;
  }
  return `fix ${
    Object.keys(account.env)
      .filter((k) => k !== 'ANTHROPIC_BASE_URL')
      .join(' or ') || 'the credential'
  } of ${account.source}, then restart the worker`;
}
