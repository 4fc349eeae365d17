import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import { freePort } from './helpers/freePort.js';
import { SECRETS } from './helpers/site.js';
import { REDIS_URL, testStores } from './helpers/stores.js';

/** Starts server.ts and returns what it printed up to and including the line that says it listens. */
async function startupLines(nodeEnv: string): Promise<{ port: number; lines: string[] }> {
  const { databaseUrl } = await testStores();
  const port = await freePort();
  const env = { ...process.env, ...SECRETS, PORT: String(port), DATABASE_URL: databaseUrl, REDIS_URL, LOG_LEVEL: 'info', NODE_ENV: nodeEnv };
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    for (let i = 0; !output.includes('listening'); i++) {
      if (i > 400) throw new Error(`server did not start: ${output}`); // production forks a worker per core: slow on a busy machine
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { port, lines: output.split('\n') };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

describe('the console', function () {
  this.timeout(30_000);

  it('in development: readable lines, the first saying where the site is', async () => {
    const { port, lines } = await startupLines('development');
    expect(lines[0]).to.match(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] INFO: login-page listening on http://localhost:${port}\\b`));
  });

  it('in production: one JSON line each, as a log collector reads them', async () => {
    const { port, lines } = await startupLines('production');
    const first = JSON.parse(lines[0]) as { level: number; msg: string; port: number };
    expect(first).to.include({ level: 30, msg: `login-page listening on http://localhost:${port}`, port });
  });
});
