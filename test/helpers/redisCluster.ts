import { setTimeout as sleep } from 'node:timers/promises';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './freePort.js';

const run = promisify(execFile);

interface Server {
  port: number;
  args: string[];
  server: ChildProcess;
}

export interface LocalCluster {
  /** `host:port` of the masters, as REDIS_CLUSTER_NODES takes them. */
  seeds: string[];
  /** The masters' ports. */
  ports: number[];
  /** Stops a node for good (a master with a replica fails over to it). */
  stopNode(port: number): Promise<void>;
  /** Stops one master (SHUTDOWN writes its AOF) and starts it again on the same folder and node file. */
  restartMaster(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** Why the cluster tests cannot run here (redis-server or redis-cli missing), or undefined when they can. */
export function missingClusterTools(): string | undefined {
  const missing = ['redis-server', 'redis-cli'].filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error);
  return missing.length > 0 ? `${missing.join(' and ')} not installed (npm run setup installs redis-tools as root)` : undefined;
}

const cli = (port: number, ...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    if (await check().catch(() => false)) return;
  }
  throw new Error(`local Redis Cluster: ${what} within ${timeoutMs} ms`);
}

const startServer = (args: string[]) => spawn('redis-server', args, { stdio: 'ignore' });

/**
 * Three masters on free ports in a folder of their own, with AOF on and `replicas` replicas each (a replica takes
 * over 1 s after its master stops answering); everything goes on stop().
 */
export async function startRedisCluster({ replicas = 0 } = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lpt-cluster-'));
  const servers: Server[] = [];
  const running = () => servers.filter(({ server }) => server.exitCode === null && server.signalCode === null);
  const stop = async () => {
    await Promise.all(running().map(({ server }) => (server.kill(), once(server, 'exit'))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // A port free now may be handed out again (it was only probed): every port taken here is distinct.
    const taken = new Set<number>();
    const distinctFreePort = async (): Promise<number> => {
      let port: number;
      do port = await freePort();
      while (taken.has(port));
      taken.add(port);
      return port;
    };
    for (let i = 0; i < 3 * (1 + replicas); i++) {
      // The bus port is chosen too: port + 10000 may be taken or beyond 65535.
      const [port, busPort] = [await distinctFreePort(), await distinctFreePort()];
      const nodeDir = path.join(dir, String(port));
      mkdirSync(nodeDir);
      const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', 'nodes.conf', '--appendonly', 'yes', '--save', '', '--dir', nodeDir);
      args.push('--enable-debug-command', 'local'); // DEBUG SLEEP: a node that stops answering
      if (replicas > 0) args.push('--cluster-node-timeout', '1000');
      servers.push({ port, args, server: startServer(args) });
    }
    await Promise.all(servers.map(({ port }) => until(`127.0.0.1:${port} did not answer`, async () => (await cli(port, 'ping')).stdout.trim() === 'PONG')));
    const nodes = servers.map(({ port }) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    const ready = () =>
      Promise.all(
        running().map(({ port }) =>
          until('cluster_state did not become ok', async () => (await cli(port, 'cluster', 'info')).stdout.includes('cluster_state:ok')),
        ),
      );
    await ready();
    // A replica that never synced may not take over (its data counts as too old).
    const linkUp = async (port: number) => !(await cli(port, 'info', 'replication')).stdout.includes('master_link_status:down');
    await Promise.all(servers.map(({ port }) => until(`replica ${port} did not sync`, () => linkUp(port))));
    // redis-cli chooses which nodes serve as masters.
    const nodeLines = (await cli(servers[0].port, 'cluster', 'nodes')).stdout.split('\n');
    const isMaster = (line: string) => (line.split(' ')[2] ?? '').split(',').includes('master');
    const masterPorts = nodeLines.filter(isMaster).map((line) => Number(/:(\d+)@/.exec(line)![1]));
    return {
      seeds: masterPorts.map((port) => `127.0.0.1:${port}`),
      ports: masterPorts,
      async stopNode(port) {
        const node = servers.find((m) => m.port === port);
        if (!node) throw new Error(`no node on ${port}`);
        const exited = once(node.server, 'exit');
        node.server.kill('SIGKILL');
        await exited;
        const flags = async (port: number) => (await cli(running()[0].port, 'cluster', 'nodes')).stdout.split('\n').find((line) => line.includes(`:${port}@`));
        await until(`${port} was not marked failed`, async () => (await flags(port))?.split(' ')[2]?.split(',').includes('fail') ?? false);
        await ready();
      },
      async restartMaster(port) {
        const master = servers.find((m) => m.port === port);
        if (!master) throw new Error(`no master on ${port}`);
        const exited = once(master.server, 'exit');
        await cli(port, 'shutdown').catch(() => undefined); // the connection closes as the server exits
        await exited;
        master.server = startServer(master.args);
        await ready();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
