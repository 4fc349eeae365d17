import net from 'node:net';
import { once } from 'node:events';

type State = 'up' | 'cut' | 'frozen';

/**
 * A TCP proxy in front of a real store that a test can cut (every connection dropped, new ones refused),
 * freeze (connections stay open but nothing gets through: a store that hangs) and restore.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1') {
  let state: State = 'up';
  const sockets = new Set<net.Socket>();
  const flushers = new Set<() => void>();

  /** Forwards from one socket to the other, holding the bytes back while frozen. */
  function forward(from: net.Socket, to: net.Socket) {
    const held: Buffer[] = [];
    const flush = () => {
      while (held.length && !to.destroyed) to.write(held.shift()!);
    };
    flushers.add(flush);
    from.on('data', (chunk: Buffer) => (state === 'frozen' ? held.push(chunk) : (flush(), to.write(chunk))));
    from.on('close', () => {
      flushers.delete(flush);
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
    forward(client, upstream);
    forward(upstream, client);
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
    restore() {
      state = 'up';
      for (const flush of flushers) flush();
    },
    async close() {
      this.cut();
      server.close();
      await once(server, 'close');
    },
  };
}
