import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../src/config/clients.js';
import { HEARTBEAT_CHANNEL } from '../../src/models/listenerHeartbeat.js';

export interface SentCommand {
  /** Lower case, as INFO commandstats names it. */
  name: string;
  /** Run by a script (EVALSHA's own calls), not sent by a client. */
  byScript: boolean;
}

// 1796654103.171091 [0 127.0.0.1:49564] "EVALSHA" "9a8b…" … or, for a script's own calls, [0 lua] "GET" "…"
const LINE = /^\S+ \[\d+ (\S+)\] "([^"]+)"(?: "((?:[^"\\]|\\.)*)")?/;

/**
 * The commands a Redis runs, as MONITOR shows them, between two markers (an ECHO each), so that a count is exact
 * without waiting for the stream to go quiet. Left out, explicitly: the ended-session listener's heartbeats (a
 * PUBLISH to a heartbeat channel, a few a second per process and never per request).
 */
export async function watchSentCommands(client: RedisClient) {
  const monitor = client.duplicate();
  await monitor.connect();
  const lines: string[] = [];
  const markers = new Map<string, (index: number) => void>();
  await monitor.monitor((line) => {
    const marker = [...markers.keys()].find((text) => line.includes(text));
    if (marker) markers.get(marker)!(lines.length);
    else lines.push(line);
  });
  const mark = async (): Promise<number> => {
    const text = `mark-${randomBytes(6).toString('hex')}`;
    const seen = new Promise<number>((resolve) => markers.set(text, resolve));
    await client.echo(text);
    const index = await seen;
    markers.delete(text);
    return index;
  };
  return {
    /** What `action` resolved with, what Redis ran meanwhile, and how many heartbeats were left out of that. */
    async during<T>(action: () => Promise<T>): Promise<{ result: T; commands: SentCommand[]; heartbeats: number }> {
      const from = await mark();
      const result = await action();
      const to = await mark();
      const ran = lines.slice(from, to).flatMap((line) => {
        const [, source, name, firstArgument] = LINE.exec(line) ?? [];
        if (!name) return [];
        const heartbeat = /^publish$/i.test(name) && firstArgument?.includes(`${HEARTBEAT_CHANNEL}:`) === true;
        return [{ name: name.toLowerCase(), byScript: source === 'lua', heartbeat }];
      });
      const commands = ran.filter((command) => !command.heartbeat).map(({ name, byScript }) => ({ name, byScript }));
      return { result, commands, heartbeats: ran.length - commands.length };
    },
    stop: () => monitor.close(),
  };
}

/** `[{ name: 'evalsha' }, { name: 'hmget' }]` → `{ evalsha: 1, hmget: 1 }`. */
export const countByName = (commands: SentCommand[]): Record<string, number> =>
  commands.reduce<Record<string, number>>((counts, { name }) => ((counts[name] = (counts[name] ?? 0) + 1), counts), {});
