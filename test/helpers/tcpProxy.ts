import net from 'node:net';
import { once } from 'node:events';
import { createDb } from '../../src/config/clients.js';
import { testStores } from './stores.js';

type State = 'up' | 'cut' | 'frozen';

/** One client connection through the proxy: whether it subscribed (a listening connection) and is black-holed. */
interface Flow {
  subscribed: boolean;
  blackholed: boolean;
}

/**
 * A TCP proxy in front of a real store that a test can cut (every connection dropped, new ones refused),
 * freeze (connections stay open but nothing gets through: a store that hangs), black-hole the listening
 * connections in (bytes stop both ways, the sockets stay open: a middlebox that lost their flows) and restore.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1') {
  let state: State = 'up';
  let blackholeLater = false;
  const sockets = new Set<net.Socket>();
  const flushers = new Set<() => void>();
  const listening = new Set<Flow>();
  let subscriptions = 0;

  /** Forwards from one socket to the other, holding the bytes back while frozen, dropping them once black-holed. */
  function forward(from: net.Socket, to: net.Socket, flow: Flow, fromClient: boolean) {
    const held: Buffer[] = [];
    const flush = () => {
      while (held.length && !to.destroyed) to.write(held.shift()!);
    };
    flushers.add(flush);
    from.on('data', (chunk: Buffer) => {
      if (fromClient && !flow.subscribed && /SUBSCRIBE/i.test(chunk.toString('latin1'))) {
        flow.subscribed = true;
        flow.blackholed = blackholeLater;
        listening.add(flow);
        subscriptions++;
      }
      if (flow.blackholed) return;
      if (state === 'frozen') {
        held.push(chunk);
        return;
      }
      flush();
      to.write(chunk);
    });
    from.on('close', () => {
      flushers.delete(flush);
      listening.delete(flow);
      to.destroy();
    });
  }

  const server = net.createServer((client) => {
    if (state === 'cut') {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    const flow: Flow = { subscribed: false, blackholed: false };
    forward(client, upstream, flow, true);
    forward(upstream, client, flow, false);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    cut() {
      state = 'cut';
      for (const socket of sockets) socket.destroy();
    },
    freeze() {
      state = 'frozen';
    },
    /** Black-holes the listening connections open now; `later`: also each one that subscribes until restore(). */
    blackholeListening({ later = false } = {}) {
      for (const flow of listening) flow.blackholed = true;
      blackholeLater = later;
    },
    /** Listening connections: how many are open now, and how many subscribed through the proxy so far. */
    get listening() {
      return { open: listening.size, subscribed: subscriptions };
    },
    /** Lets bytes and new connections through again; a connection already black-holed stays so. */
    restore() {
      state = 'up';
      blackholeLater = false;
      for (const flush of flushers) flush();
    },
    async close() {
      this.cut();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A MySQL pool (`db`) to the test database through a proxy of its own (`proxy`); `close` ends both. */
export async function mysqlThroughProxy() {
  const { target } = await testStores();
  const proxy = await startTcpProxy(target.port, target.host);
  const db = createDb(`mysql://${target.user}:${target.password}@127.0.0.1:${proxy.port}/${target.database}`);
  const close = async () => {
    await db.end();
    await proxy.close();
  };
  return { proxy, db, close };
}
