import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './freePort.js';
import { createRedis, type RedisClient } from '../../src/config/clients.js';
import { createLogger } from '../../src/config/logger.js';

/** A throw-away redis-server of this test's own, where commands can be counted without other runs' noise. */
export async function startPrivateRedis(extraArgs: string[] = []): Promise<{ client: RedisClient; port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  // A folder of its own: whatever it writes (DEBUG RELOAD saves a dump) never reaches another server's start.
  const dir = mkdtempSync(path.join(tmpdir(), 'lpt-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...extraArgs];
  const server: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
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
  const stop = async () => {
    await client.close().catch(() => undefined);
    server.kill();
    await once(server, 'exit');
    rmSync(dir, { recursive: true, force: true });
  };
  return { client, port, stop };
}
