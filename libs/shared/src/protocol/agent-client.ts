import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentReply, AgentRequest } from './agent-request.js';

/** The worker did not answer: not listening (restarting, or the attempt is over), or too slow. */
export class WorkerUnreachableError extends Error {
  override readonly name = 'WorkerUnreachableError';
}

const REPLY_MAX_BYTES = 64 * 1024 * 1024;
/** Not listening yet or any more: worth another try until the deadline (a worker restart adopts the attempt). */
const RETRYABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/**
 * Asks the agent's own worker, over the attempt's socket, and returns its reply. Retries a socket that is
 * not listening until `waitMs` has passed; a worker that accepted the request is never asked twice.
 */
export async function askWorker(socketPath: string, token: string, request: AgentRequest, { waitMs = 10_000 } = {}): Promise<AgentReply> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await exchange(socketPath, `${JSON.stringify({ token, request })}\n`, Math.max(1_000, deadline - Date.now()));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!code || !RETRYABLE.has(code) || Date.now() >= deadline) {
        throw new WorkerUnreachableError(`the worker did not answer on ${socketPath}: ${(error as Error).message}`);
      }
      await sleep(100);
    }
  }
}

function exchange(socketPath: string, line: string, timeoutMs: number): Promise<AgentReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    let size = 0;
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no reply within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    socket.on('connect', () => socket.end(line));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > REPLY_MAX_BYTES) socket.destroy(new Error(`reply over ${REPLY_MAX_BYTES} bytes`));
      else chunks.push(chunk);
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return reject(Object.assign(new Error('the worker closed the connection without a reply'), { code: 'ECONNRESET' }));
      try {
        resolve(JSON.parse(text) as AgentReply);
      } catch (error) {
        reject(error);
      }
    });
  });
}
