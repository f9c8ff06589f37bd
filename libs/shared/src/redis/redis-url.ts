import { redactUrlPassword } from '../errors/format.js';

/**
 * The forms REINS_REDIS_URL takes:
 *
 *   redis://[user:password@]host:port[/db]                               one server (rediss:// for TLS)
 *   redis+sentinel://[user:password@]host1:port1,host2:port2/<master>    Sentinel: the master is asked of the sentinels
 *   redis+cluster://[user:password@]host1:port1,host2:port2              Cluster: any nodes; the rest are discovered
 *
 * (`rediss+sentinel://`, `rediss+cluster://` for TLS.) The password is for the Redis servers; sentinels that
 * require one of their own take `?sentinelPassword=…`. Errors name the part that is wrong and never show a
 * password.
 */
export type RedisTarget =
  | { kind: 'standalone'; url: string; tls: boolean }
  | { kind: 'sentinel'; sentinels: HostPort[]; masterName: string; username?: string; password?: string; sentinelPassword?: string; tls: boolean }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string; tls: boolean };

export interface HostPort {
  host: string;
  port: number;
}

export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

const SCHEMES = ['redis:', 'rediss:', 'redis+sentinel:', 'rediss+sentinel:', 'redis+cluster:', 'rediss+cluster:'] as const;
const DEFAULT_PORT = { standalone: 6379, sentinel: 26379, cluster: 6379 } as const;

/** Hides the password of a Redis URL of any form, before it is printed or logged. */
export function redactRedisUrl(url: string): string {
  return redactUrlPassword(url).replace(/([?&]sentinelPassword=)[^&]*/, '$1***');
}

function decode(part: string, what: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RedisUrlError(`${what} of ${redactRedisUrl(url)} is not valid percent-encoding`);
  }
}

function parseHosts(list: string, kind: 'sentinel' | 'cluster', url: string): HostPort[] {
  if (list === '') throw new RedisUrlError(`${redactRedisUrl(url)} names no ${kind === 'sentinel' ? 'sentinel' : 'cluster node'}: expected host:port[,host:port…] after //`);
  return list.split(',').map((entry) => {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(entry);
    if (!match) throw new RedisUrlError(`${kind === 'sentinel' ? 'sentinel' : 'cluster node'} ${JSON.stringify(entry)} in ${redactRedisUrl(url)} is not host:port`);
    const port = match[2] === undefined ? DEFAULT_PORT[kind] : Number(match[2]);
    if (port < 1 || port > 65_535) throw new RedisUrlError(`port ${match[2]} of ${JSON.stringify(entry)} in ${redactRedisUrl(url)} is not from 1 to 65535`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/** Reads REINS_REDIS_URL. Throws RedisUrlError naming the part that is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  const schemeMatch = /^([a-z+]+:)\/\//i.exec(url);
  const scheme = schemeMatch?.[1]?.toLowerCase();
  if (!scheme || !(SCHEMES as readonly string[]).includes(scheme)) {
    throw new RedisUrlError(`the scheme of ${redactRedisUrl(url)} is not one of ${SCHEMES.map((s) => `${s}//`).join(', ')}`);
  }
  if (/\s/.test(url)) throw new RedisUrlError(`${redactRedisUrl(url)} contains white space`);
  const tls = scheme.startsWith('rediss');
  if (scheme === 'redis:' || scheme === 'rediss:') {
    try {
      const parsed = new URL(url);
      if (!parsed.hostname) throw new Error('no host');
    } catch {
      throw new RedisUrlError(`${redactRedisUrl(url)} is not a valid redis URL: expected ${scheme}//[user:password@]host:port[/db]`);
    }
    return { kind: 'standalone', url, tls };
  }
  const kind = scheme.includes('sentinel') ? 'sentinel' : 'cluster';
  let rest = url.slice(schemeMatch![0].length);
  const query = rest.indexOf('?');
  const params = new URLSearchParams(query < 0 ? '' : rest.slice(query + 1));
  if (query >= 0) rest = rest.slice(0, query);
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    const user = decode(colon < 0 ? credentials : credentials.slice(0, colon), 'the user name', url);
    if (user !== '') username = user;
    if (colon >= 0) password = decode(credentials.slice(colon + 1), 'the password', url);
  }
  const slash = rest.indexOf('/');
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  const hosts = parseHosts(hostList, kind, url);
  for (const name of params.keys()) {
    if (name !== 'sentinelPassword' || kind !== 'sentinel')
      throw new RedisUrlError(`${redactRedisUrl(url)} has an unknown parameter ${JSON.stringify(name)}${kind === 'sentinel' ? ' (expected only sentinelPassword)' : ''}`);
  }
  const credentials = { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
  if (kind === 'cluster') {
    if (/^\d+$/.test(path)) throw new RedisUrlError(`${redactRedisUrl(url)} names database ${path}: Redis Cluster has only database 0, so a cluster URL names nodes only`);
    if (path !== '') throw new RedisUrlError(`${redactRedisUrl(url)} has a path ${JSON.stringify(`/${path}`)}: a cluster URL names nodes only (Redis Cluster has one database)`);
    return { kind, nodes: hosts, tls, ...credentials };
  }
  const masterName = decode(path, 'the master name', url);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(masterName)) {
    throw new RedisUrlError(
      `${redactRedisUrl(url)} names ${masterName === '' ? 'no master' : `the master ${JSON.stringify(masterName)}, which is not 1 to 128 letters, digits, ".", "_" or "-"`}: expected redis+sentinel://host:port[,host:port…]/<master-name>`,
    );
  }
  const sentinelPassword = params.get('sentinelPassword') ?? undefined;
  return { kind, sentinels: hosts, masterName, tls, ...credentials, ...(sentinelPassword !== undefined ? { sentinelPassword } : {}) };
}
