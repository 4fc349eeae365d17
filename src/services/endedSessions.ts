import type { Logger } from 'pino';
import type { Redis, Subscriber } from '../config/clients.js';
import { createEndedSessionLog } from '../models/endedSessionLog.js';
import { createListenerHeartbeat } from '../models/listenerHeartbeat.js';
import { watchSubscription, type SubscriptionWatch } from './subscriptionWatch.js';

export type EndedSessions = ReturnType<typeof createEndedSessions>;

// Clocks of the processes differ a little; an ended sid is kept this much longer than its last access token.
const CLOCK_MARGIN_MS = 2000;
const CATCH_UP_RETRY_MS = 200;

/**
 * The sessions that ended recently, in this process's memory, so that jwt_auth refuses their access tokens
 * without a store round trip. Each sid stays only until the last access token of it has expired anyway, so the
 * map holds at most the sessions ended within one ACCESS_TOKEN_TTL.
 */
export function createEndedSessions({ redis, keyPrefix, accessTtlMs, logger }: { redis: Redis; keyPrefix: string; accessTtlMs: number; logger: Logger }) {
  const keepUntil = new Map<string, number>();
  const keepMs = accessTtlMs + CLOCK_MARGIN_MS;
  const onError = (err: Error) => logger.warn({ err: { message: err.message } }, 'could not log ended sessions for reconnecting processes');
  const log = createEndedSessionLog(redis, { keyPrefix, keepMs, onError });

  const add = (sid: string, endedAt = Date.now()) => keepUntil.set(sid, Math.max(keepUntil.get(sid) ?? 0, endedAt + keepMs));
  const prune = () => {
    const now = Date.now();
    for (const [sid, until] of keepUntil) if (until <= now) keepUntil.delete(sid);
  };
  // Reads the log until it succeeds (the two connections come back independently), one reader at a time; a
  // call while one reads makes it read once more when done.
  let reading: Promise<void> | undefined;
  let again = false;
  const readUntilDone = async () => {
    do {
      again = false;
      for (;;) {
        try {
          (await log.recent()).forEach(({ sid, endedAt }) => add(sid, endedAt));
          break;
        } catch (err) {
          logger.warn({ err: { message: (err as Error).message } }, 'could not read the ended-session log: trying again');
          await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref());
        }
      }
    } while (again);
  };
  const catchUp = (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = readUntilDone().finally(() => (reading = undefined));
    return reading;
  };

  let watch: SubscriptionWatch | undefined;

  return {
    /** Where the scripts that end sessions announce them. */
    log,

    has(sid: string): boolean {
      const until = keepUntil.get(sid);
      return until !== undefined && until > Date.now();
    },

    /** A session found ended by asking Redis (while the listener was degraded). */
    remember(sid: string): void {
      add(sid);
    },

    get size(): number {
      return keepUntil.size;
    },

    /** `has` knows every session that ended: the subscription proves itself and the log was read since it was made. */
    get live(): boolean {
      return watch?.live ?? false;
    },

    /** Which stretch of being live this is, undefined while degraded: a cache of news heard here holds within one. */
    get livePeriod(): number | undefined {
      return watch?.livePeriod;
    },

    /** Redis took the listener's last heartbeats: asking it about a session can work. */
    get redisAnswers(): boolean {
      return watch?.redisAnswers ?? false;
    },

    /**
     * Subscribes on a connection of its own (its offline queue holds the SUBSCRIBE until it connects) and proves
     * it alive with heartbeats (services/subscriptionWatch.ts), which also fill the map from the log after every
     * (re)connect. `news`: other channels to hear on the same proven connection. Stops when the subscriber is closed.
     */
    listen(subscriber: Subscriber, news: { channel: string; hear: (message: string) => void }[] = []): void {
      const heartbeat = createListenerHeartbeat(redis, keyPrefix);
      const listening = (watch = watchSubscription({ subscriber, heartbeat, catchUp, logger }));
      setInterval(prune, Math.min(keepMs, 60_000)).unref();
      // In this order on one connection: a beat heard proves the channels before it subscribed too.
      Promise.all([
        subscriber.subscribe(log.channel, (message) => message.split(',').forEach((sid) => add(sid))),
        ...news.map(({ channel, hear }) => subscriber.subscribe(channel, hear)),
        subscriber.subscribe(heartbeat.channel, (message) => listening.hear(Number(message))),
      ]).then(listening.beat, (err: Error) => logger.warn({ err: { message: err.message } }, 'could not subscribe to ended sessions'));
    },
  };
}
