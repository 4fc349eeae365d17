import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './helpers/freePort.js';
import net from 'node:net';
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
        const socket = net.connect(port, '127.0.0.1');
        await once(socket, 'connect');
        const body = 'id=abcd&password=some-password';
        socket.write(`POST /user/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        child.kill(signal);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const late = net.connect(port, '127.0.0.1');
        const outcome = await new Promise((resolve) => {
          late.on('connect', () => resolve('connected'));
          late.on('error', () => resolve('refused'));
        });
        late.destroy();
        expect(outcome).to.equal('refused');
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.write(body.slice(5));
        await once(socket, 'close');
        expect(answer).to.match(/^HTTP\/1\.1 403/); // answered in full (no CSRF token), not dropped
        const [code] = await exited;
        expect(code).to.equal(0);
        expect(output).to.include('shutting down');
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
