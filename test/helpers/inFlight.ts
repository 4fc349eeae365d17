import { once } from 'node:events';
import net from 'node:net';

const BODY = 'id=abcd&password=some-password';

/** A login POST whose body is still on its way; `finish()` sends the rest and resolves with the whole answer. */
export async function requestInFlight(port: number): Promise<{ finish: () => Promise<string> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `POST /user/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY.slice(0, 5)}`,
  );
  const finish = async () => {
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.write(BODY.slice(5));
    await once(socket, 'close');
    return answer;
  };
  return { finish };
}

/** Whether a new connection to `port` is accepted right now. */
export function tryConnect(port: number): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => (socket.destroy(), resolve('connected'))).on('error', () => resolve('refused'));
  });
}
