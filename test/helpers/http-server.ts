import { createServer, type RequestListener } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';

/** A server on 127.0.0.1 (or ::1) started by a test: its URL, the connections it accepted, and how to stop it. */
export interface LocalServer {
  readonly url: string;
  /** Every connection accepted so far, in order. */
  readonly sockets: readonly Socket[];
  /** Stops listening and destroys the connections still open. */
  stop(): Promise<void>;
}

async function listening(
  server: ReturnType<typeof createServer> | ReturnType<typeof createNetServer>,
  host = '127.0.0.1',
) {
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A bare HTTP server that answers as `answer` says, for answers no simulator gives; on IPv6's loopback if asked. */
export async function localHttpServer(
  answer: RequestListener,
  host: '127.0.0.1' | '::1' = '127.0.0.1',
): Promise<LocalServer> {
  const { port, sockets, stop } = await listening(createServer(answer), host);
  return { url: `http://${host === '::1' ? '[::1]' : host}:${port}`, sockets, stop };
}

/** A TCP server that hands each connection to `accept`, for what is not HTTP (a TLS handshake). */
export async function localTcpServer(accept: (socket: Socket) => void): Promise<LocalServer & { port: number }> {
  const { port, sockets, stop } = await listening(createNetServer(accept));
  return { url: `tcp://127.0.0.1:${port}`, port, sockets, stop };
}

/** The URL of a port on 127.0.0.1 where nothing listens: connecting is refused. */
export async function refusingUrl(): Promise<string> {
  const { port, stop } = await listening(createNetServer());
  await stop();
  return `http://127.0.0.1:${port}`;
}
