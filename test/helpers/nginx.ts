import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './freePort.js';

/** The proxy part people deploy (docs/DEPLOYING.md); the test's configuration is generated around it. */
export const PROXY_SNIPPET = path.resolve('docs/deploy/login-page-proxy.conf');

/** Debian's nginx lives in /usr/sbin, which is not on every user's PATH. */
export function nginxBinary(): string | undefined {
  return ['nginx', '/usr/sbin/nginx'].find((binary) => !spawnSync(binary, ['-v'], { stdio: 'ignore' }).error);
}

export interface LocalNginx {
  port: number;
  stop(): Promise<void>;
}

/**
 * nginx in the foreground on 127.0.0.1 and a free port, with every path (pid, logs, temp files) in a folder of
 * its own, proxying to `upstreams` through the deployed snippet. Test only: `X-Upstream` names the process that answered.
 */
export async function startNginx(binary: string, upstreams: string[]): Promise<LocalNginx> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lpt-nginx-'));
  chmodSync(dir, 0o755); // run as root, the workers are nobody
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, configuration(dir, port, upstreams));
  const server: ChildProcess = spawn(binary, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  const exited = once(server, 'exit');
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGQUIT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 10_000; !(await answers(port)); await sleep(50)) {
    if (server.exitCode !== null || Date.now() > deadline) {
      const log = existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : '';
      await stop();
      throw new Error(`nginx did not start:\n${log}`);
    }
  }
  return { port, stop };
}

function configuration(dir: string, port: number, upstreams: string[]): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${path.join(dir, kind)};`);
  return `worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
${temp.join('\n')}
  upstream login_page {
${upstreams.map((address) => `    server ${address};`).join('\n')}
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};
    add_header X-Upstream $upstream_addr always;
    include ${PROXY_SNIPPET};
  }
}
`;
}

async function answers(port: number): Promise<boolean> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}
