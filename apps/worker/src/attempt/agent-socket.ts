import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  AGENT_REQUEST_MAX_BYTES,
  AgentEnvelopeSchema,
  AgentRequestSchema,
  ConfigError,
  Mailbox,
  TaskError,
  TaskList,
  withScripts,
  type AgentReply,
  type AgentRefusal,
  type AttemptMeta,
  type Keys,
  type Logger,
  type ParsedAgentRequest,
  type RedisConnection,
  type ReinsScripts,
  type RunStore,
} from '@reins/shared';

/** Where an attempt's socket is, and the token its agent proves itself with (kept in meta.json for adoption). */
export interface AgentChannel {
  path: string;
  token: string;
}

/**
 * A unix socket's path holds at most 107 bytes (sun_path), too few for an attempt folder's: the sockets
 * have short names in one folder of the data dir, which a worker checks at start.
 */
const SOCKET_NAME_BYTES = 16;
const SOCKET_PATH_MAX_BYTES = 107;
const socketsDir = (dataDir: string): string => path.join(dataDir, 'sockets');

export function assertSocketsFit(dataDir: string): void {
  const longest = path.join(socketsDir(dataDir), `${'x'.repeat(SOCKET_NAME_BYTES)}.sock`);
  if (Buffer.byteLength(longest) <= SOCKET_PATH_MAX_BYTES) return;
  const room = SOCKET_PATH_MAX_BYTES - (Buffer.byteLength(longest) - Buffer.byteLength(dataDir));
  throw new ConfigError([
    {
      path: 'REINS_DATA_DIR',
      message: `expected a path of at most ${room} bytes: agents reach their worker through unix sockets in <data dir>/sockets, whose paths hold at most ${SOCKET_PATH_MAX_BYTES} bytes, got "${dataDir}"`,
    },
  ]);
}

/** A new attempt's channel: a fresh socket name and token, never an earlier attempt's. */
export function newAgentChannel(dataDir: string): AgentChannel {
  return { path: path.join(socketsDir(dataDir), `${randomBytes(SOCKET_NAME_BYTES / 2).toString('hex')}.sock`), token: randomBytes(24).toString('base64url') };
}

class Refused extends Error {
  constructor(
    readonly kind: AgentRefusal,
    message: string,
  ) {
    super(message);
  }
}

type Attempt = Pick<AttemptMeta, 'runId' | 'member' | 'attempt' | 'epoch' | 'jobId' | 'agentUser'> & { channel: AgentChannel };

export interface AgentSocketDeps {
  redis: RedisConnection;
  keys: Keys;
  store: RunStore;
  logger: Logger;
  heartbeatTtlMs: number;
  /** Told of each tool hook: the monitor counts a tool between PreToolUse and PostToolUse as work, not a hang. */
  onHook: (jobId: string, event: string | undefined) => void;
}

/**
 * The agents' only way to reins: one unix socket per attempt (mode 0600), served by the worker that runs
 * it. A request carries the attempt's token; the worker, not the agent, knows the run, member and epoch,
 * checks the epoch is still the member's, and does the Redis work. An agent holds no Redis URL, password
 * or prefix, and can touch only its own run's tasks and messages and its own cursor.
 */
export class AgentSockets {
  private readonly servers = new Map<string, { server: net.Server; attempt: Attempt }>();
  private readonly redis: RedisConnection & ReinsScripts;

  constructor(private readonly deps: AgentSocketDeps) {
    this.redis = withScripts(deps.redis);
  }

  /** Serves the attempt's socket (again, after a restart: the path and token are the attempt's). */
  async listen(attempt: Attempt): Promise<void> {
    const held = this.servers.get(attempt.jobId);
    if (held?.attempt.epoch === attempt.epoch) return;
    if (held) await this.close(attempt.jobId);
    await mkdir(path.dirname(attempt.channel.path), { recursive: true });
    await chmod(path.dirname(attempt.channel.path), 0o711);
    await rm(attempt.channel.path, { force: true });
    // Half-open: the agent ends its side once it has asked, and still reads the answer.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.serve(socket, attempt));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(attempt.channel.path, () => resolve());
    });
    await chmod(attempt.channel.path, 0o600);
    // The agent's own user (agent-user.ts) owns its socket; the folder is passable, never listable.
    if (attempt.agentUser) await chown(attempt.channel.path, attempt.agentUser.uid, attempt.agentUser.gid);
    this.servers.set(attempt.jobId, { server, attempt });
  }

  async close(jobId: string): Promise<void> {
    const held = this.servers.get(jobId);
    if (!held) return;
    this.servers.delete(jobId);
    await new Promise<void>((resolve) => held.server.close(() => resolve()));
    await rm(held.attempt.channel.path, { force: true });
  }

  /**
   * Removes the sockets nobody serves any more (a worker killed before it closed them), once at start. A
   * socket another worker sharing the data dir serves answers, and is left alone.
   */
  async sweep(dataDir: string): Promise<void> {
    const names = await readdir(socketsDir(dataDir)).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.sock'))) {
      const file = path.join(socketsDir(dataDir), name);
      const served = await new Promise<boolean>((resolve) => {
        const probe = net.connect(file);
        probe.once('connect', () => {
          probe.destroy();
          resolve(true);
        });
        probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED'));
      });
      if (!served) await rm(file, { force: true });
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((jobId) => this.close(jobId)));
  }

  private serve(socket: net.Socket, attempt: Attempt): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let answered = false;
    let asked = false;
    const reply = (answer: AgentReply) => {
      if (answered) return;
      answered = true;
      socket.end(`${JSON.stringify(answer)}\n`);
    };
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('error', () => undefined);
    // Half-open is for reading an answer; a caller that hung up without a whole request gets none.
    socket.on('end', () => {
      if (!asked) socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      size += chunk.length;
      if (size > AGENT_REQUEST_MAX_BYTES) return reply({ ok: false, kind: 'bad_request', error: `a request is at most ${AGENT_REQUEST_MAX_BYTES} bytes` });
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\n');
      if (end < 0) return;
      asked = true;
      void this.answer(text.slice(0, end), attempt).then(reply);
    });
  }

  private async answer(line: string, attempt: Attempt): Promise<AgentReply> {
    try {
      const envelope = AgentEnvelopeSchema.safeParse(parseJson(line));
      if (!envelope.success) throw new Refused('bad_request', 'expected {"token": …, "request": …}');
      if (!sameToken(envelope.data.token, attempt.channel.token)) throw new Refused('refused', "this socket is another attempt's: the token does not match");
      const request = AgentRequestSchema.safeParse(envelope.data.request);
      if (!request.success) throw new Refused('bad_request', request.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '));
      return { ok: true, result: await this.carryOut(request.data, attempt) };
    } catch (error) {
      if (error instanceof Refused) return { ok: false, kind: error.kind, error: error.message };
      if (error instanceof TaskError) return { ok: false, kind: 'conflict', error: error.message };
      this.deps.logger.warn({ err: error, runId: attempt.runId, member: attempt.member }, "an agent's request failed");
      return { ok: false, kind: 'internal', error: `the worker could not do it: ${(error as Error).message}` };
    }
  }

  private async carryOut(request: ParsedAgentRequest, attempt: Attempt): Promise<unknown> {
    const { keys, store } = this.deps;
    const { runId, member, epoch } = attempt;
    if (request.op === 'beat') {
      this.deps.onHook(attempt.jobId, request.event);
      const inTool = request.event === 'PreToolUse' ? '1' : '0';
      const result = await this.redis.reinsHookPing(keys.member(runId, member), keys.heartbeat(attempt.jobId), String(epoch), String(Date.now()), String(this.deps.heartbeatTtlMs), inTool);
      return { superseded: Number(result) === -1 };
    }
    // Every other request is refused once a newer attempt of the member has begun.
    const current = await store.getMember(runId, member);
    if (current?.epoch !== epoch) throw new Refused('refused', `this attempt (epoch ${epoch}) of ${member} was superseded by a newer one`);
    const tasks = () => new TaskList(this.deps.redis, keys, runId);
    switch (request.op) {
      case 'task.add':
        return tasks().add(request.title, member);
      case 'task.list':
        return tasks().list();
      case 'task.claim':
        return tasks().claim(member, request.id);
      case 'task.done':
        return tasks().done(request.id, member, request.note);
      case 'msg.send': {
        const run = await store.requireRun(runId);
        if (request.to !== 'all' && !run.members.includes(request.to)) throw new Refused('not_found', `run ${runId} has no member ${JSON.stringify(request.to)} (members: ${run.members.join(', ')})`);
        return { sent: await new Mailbox(this.deps.redis, keys, runId).send(member, request.to, request.text, run.members) };
      }
      case 'msg.inbox':
        return new Mailbox(this.deps.redis, keys, runId).inbox(member, { all: request.all });
      case 'checkpoint':
        // Fenced by the epoch in Lua too: a superseded agent cannot overwrite the newer attempt's cursor.
        await store.writeCursor(runId, member, epoch, { data: request.data, at: Date.now(), attempt: attempt.attempt });
        return { saved: true };
    }
  }
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new Refused('bad_request', 'expected one line of JSON');
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
