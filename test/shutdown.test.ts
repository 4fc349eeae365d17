import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './helpers/freePort.js';
import { requestInFlight, tryConnect } from './helpers/inFlight.js';
import { expect } from 'chai';
import { SECRETS } from './helpers/site.js';
import { REDIS_URL, testStores } from './helpers/stores.js';

describe('the server process', function () {
  this.timeout(30_000);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}: stops accepting, finishes the request in flight, closes the stores and exits 0`, async () => {
      const { databaseUrl } = await testStores();
      const port = await freePort();
      const env = { ...process.env, ...SECRETS, PORT: String(port), DATABASE_URL: databaseUrl, REDIS_URL, LOG_LEVEL: 'info', NODE_ENV: 'development' };
      const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      const exited = once(child, 'exit');
      try {
        for (let i = 0; !output.includes('listening'); i++) {
          if (i > 200) throw new Error(`server did not start: ${output}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // A request whose body is still on its way when the signal arrives.
        const inFlight = await requestInFlight(port);
        await new Promise((resolve) => setTimeout(resolve, 200));
        child.kill(signal);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await tryConnect(port)).to.equal('refused');
        expect(await inFlight.finish()).to.match(/^HTTP\/1\.1 403/); // answered in full (no CSRF token), not dropped
        const [code] = await exited;
        expect(code).to.equal(0);
        expect(output).to.include('shutting down');
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
