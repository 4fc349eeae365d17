import type { Logger } from 'pino';
import type { Subscriber } from '../config/clients.js';
import type { ListenerHeartbeat } from '../models/listenerHeartbeat.js';

// A beat every 250 ms, silent when none of the last 3 ticks came back: noticed within 1 s (2 s allowed); ticks, not wall time: a busy loop is no silence.
const BEAT_EVERY_MS = 250;
const DEADLINE_TICKS = 3;
// An announcement that raced a resubscription reaches the log by then: it is read once more.
const SECOND_CATCH_UP_MS = 1000;

export type SubscriptionWatch = ReturnType<typeof watchSubscription>;

/**
 * Proves the listening connection alive with heartbeats, and replaces it when they stop coming back while Redis
 * still takes them (a half-open connection says nothing). Live once a beat was heard on the current connection
 * (its channels are then subscribed) and the ended-session log was read after that (`catchUp`).
 */
export function watchSubscription({
  subscriber,
  heartbeat,
  catchUp,
  logger,
}: {
  subscriber: Subscriber;
  heartbeat: ListenerHeartbeat;
  catchUp: () => Promise<void>;
  logger: Logger;
}) {
  let tick = 0;
  let lastHeard = -Infinity; // the tick the latest beat heard was sent at
  let lastAnswered = 0; // the tick of the latest beat Redis took (presumed at the start)
  let connection = 0; // counts the connections: a new one after every (re)connect
  let connectedAt = 0; // the tick the current one was made at
  let proven = -1; // the latest connection a beat was heard on
  let caughtUp = -1; // the latest connection that the log was read for since
  let live = false;
  let livePeriods = 0; // counts the times it became live: what was learnt in an earlier period may have missed news

  const recent = (atTick: number) => atTick >= tick - DEADLINE_TICKS;

  function update(): void {
    const now = proven === connection && caughtUp === connection && recent(lastHeard);
    if (now === live) return;
    live = now;
    if (live) livePeriods++;
    if (live) logger.info('ended-session listener live');
    else
      logger.warn(
        { cause: proven === connection ? 'silent' : 'new connection' },
        "ended-session listener degraded: each access token's session is checked in Redis until it is live again",
      );
  }

  // A beat Redis did not take (down, or not answering) just leaves `lastAnswered` behind; the client logs the outage.
  function beat(): void {
    const sentAt = tick;
    heartbeat.publish(sentAt).then(
      () => (lastAnswered = Math.max(lastAnswered, sentAt)),
      () => undefined,
    );
  }

  function newConnection(): void {
    connection++;
    connectedAt = tick;
    update();
  }

  function hear(sentAt: number): void {
    lastHeard = Math.max(lastHeard, sentAt);
    if (proven !== connection) {
      // Heard on this connection: its channels are subscribed, so a log read from now on misses nothing.
      const heardOn = (proven = connection);
      void catchUp().then(() => {
        if (heardOn === connection) caughtUp = heardOn;
        update();
      });
      setTimeout(() => void catchUp(), SECOND_CATCH_UP_MS).unref();
    }
    update();
  }

  subscriber.on('ready', () => {
    newConnection();
    beat();
  });
  const timer = setInterval(() => {
    if (!subscriber.isOpen) return clearInterval(timer);
    tick++;
    update();
    // Beats that Redis took did not come back over a connection old enough to have heard them.
    if (recent(lastAnswered) && !recent(lastHeard) && !recent(connectedAt)) {
      logger.debug('ended-session listener silent: replacing its connection');
      subscriber.reconnect();
      newConnection();
    }
    beat();
  }, BEAT_EVERY_MS).unref();

  return {
    hear,
    beat,

    /** The map of ended sessions is complete: the connection proved itself lately and the log was read since it was made. */
    get live(): boolean {
      return live;
    },

    /** Which stretch of being live this is (undefined while degraded): news was heard without a gap within one. */
    get livePeriod(): number | undefined {
      return live ? livePeriods : undefined;
    },

    /** Redis took a beat lately; while it does not, asking it about a session could only fail or hang. */
    get redisAnswers(): boolean {
      return recent(lastAnswered);
    },
  };
}
