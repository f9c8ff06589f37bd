import type { Redis } from 'ioredis';

export interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

/**
 * Registers Lua scripts as commands on a connection (each once: ioredis then loads it with EVALSHA) and
 * returns the connection typed with them. Every atomic multi-key step of reins is one of these scripts.
 */
export function withScripts<Commands>(redis: Redis, scripts: Record<keyof Commands & string, ScriptDefinition>): Redis & Commands {
  const target = redis as unknown as Record<string, unknown>;
  for (const [name, script] of Object.entries(scripts) as [string, ScriptDefinition][]) {
    if (typeof target[name] !== 'function') redis.defineCommand(name, script);
  }
  return redis as Redis & Commands;
}
