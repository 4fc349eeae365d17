import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './freePort.js';
import { createRedis, type Redis } from '../../src/config/clients.js';
import { createLogger } from '../../src/config/logger.js';

/** A throw-away redis-server of this test's own, where commands can be counted without other runs' noise. */
export async function startPrivateRedis(): Promise<{ client: Redis; commandCalls: () => Promise<Record<string, number>>; stop: () => Promise<void> }> {
  const port = await freePort();
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const client = createRedis(`redis://127.0.0.1:${port}`, createLogger('silent'));
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      break;
    } catch (err) {
      if (attempt > 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  /** Calls per command so far (scripts' inner commands included), less the INFO calls that read them. */
  const commandCalls = async () => {
    const stats = await client.info('commandstats');
    const calls = [...stats.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].filter(([, name]) => name !== 'info');
    return Object.fromEntries(calls.map(([, name, count]) => [name, Number(count)]));
  };
  const stop = async () => {
    await client.close();
    server.kill();
    await once(server, 'exit');
  };
  return { client, commandCalls, stop };
}
