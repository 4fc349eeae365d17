import { randomBytes } from 'node:crypto';
import type { Redis } from '../config/clients.js';
import { redisCall } from './storeErrors.js';

/** Part of every heartbeat channel's name: counts of the commands a request costs leave these PUBLISHes out. */
export const HEARTBEAT_CHANNEL = 'listener-heartbeat';

export type ListenerHeartbeat = ReturnType<typeof createListenerHeartbeat>;

/**
 * A channel of one process's own: it PUBLISHes beats to it over the command connection and hears them on its
 * listening connection, which proves that connection still delivers. Plain PUBLISH reaches every node of a Redis
 * Cluster; a channel per process keeps each process from hearing the others' beats.
 */
export function createListenerHeartbeat(redis: Redis, keyPrefix: string) {
  const channel = `${keyPrefix}${HEARTBEAT_CHANNEL}:${randomBytes(9).toString('base64url')}`;
  return {
    channel,
    publish: (beat: number) => redisCall(() => redis.publish(channel, String(beat))),
  };
}
