import { createHash } from 'node:crypto';
import type { Redis } from '../config/clients.js';

export type LuaScript = (redis: Redis, keys: string[], args: string[]) => Promise<unknown>;

/** Runs a script by its SHA (one round trip); loads it with EVAL only when the server does not know it yet. */
export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (redis, keys, args) => {
    try {
      return await redis.evalSha(sha, { keys, arguments: args });
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return redis.eval(source, { keys, arguments: args });
    }
  };
}
