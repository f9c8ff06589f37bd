import type { RedisConnection } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';

export interface Message {
  id: string;
  from: string;
  to: string;
  text: string;
  at: number;
}

const MAX_MESSAGES_PER_INBOX = 1_000;

/** Messages between the members of one run; each member has an inbox (a Redis stream) and a read mark. */
export class Mailbox {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
    private readonly runId: string,
  ) {}

  /** Sends to one member, or to every other member with "all". Returns the recipients. */
  async send(from: string, to: string, text: string, members: readonly string[]): Promise<string[]> {
    const recipients = to === 'all' ? members.filter((m) => m !== from) : [to];
    const pipeline = this.redis.pipeline();
    const at = String(Date.now());
    for (const member of recipients) {
      pipeline.xadd(this.keys.inbox(this.runId, member), 'MAXLEN', '~', String(MAX_MESSAGES_PER_INBOX), '*', 'from', from, 'to', to, 'text', text, 'at', at);
    }
    await pipeline.exec();
    return recipients;
  }

  /** Unread messages (or all with `all`), oldest first; reading marks them read. */
  async inbox(member: string, { all = false } = {}): Promise<Message[]> {
    const readKey = this.keys.inboxRead(this.runId, member);
    const after = all ? null : await this.redis.get(readKey);
    const entries = await this.redis.xrange(this.keys.inbox(this.runId, member), after ? `(${after}` : '-', '+');
    const messages = entries.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { id, from: f.from ?? '?', to: f.to ?? member, text: f.text ?? '', at: Number(f.at) };
    });
    const last = messages.at(-1);
    if (last && !all) await this.redis.set(readKey, last.id);
    return messages;
  }
}
