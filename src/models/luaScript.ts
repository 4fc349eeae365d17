import { createHash } from 'node:crypto';
import { ErrorReply } from 'redis';
import type { Redis } from '../config/clients.js';
import { redisCall } from './storeErrors.js';

export type LuaScript = (redis: Redis, keys: string[], args: string[]) => Promise<unknown>;

/**
 * Runs a script by its SHA (one round trip); loads it with EVAL only when the server does not know it yet. On a
 * cluster both go to the node that owns the first key (every script's keys share one slot).
 */
export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  const run = async (redis: Redis, keys: string[], args: string[]) => {
    try {
      return await redis.evalSha(sha, { keys, arguments: args });
    } catch (err) {
      if (!(err instanceof ErrorReply && err.message.startsWith('NOSCRIPT'))) throw err;
      return redis.eval(source, { keys, arguments: args });
    }
  };
  return (redis, keys, args) => redisCall(() => run(redis, keys, args));
}
