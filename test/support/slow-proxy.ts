/** A TCP proxy that delays every chunk the client sends: a real slow database, without touching the product. */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface SlowProxy {
  port: number;
  /** Current delay per client→server chunk, in ms (0 = transparent). */
  delayMs: number;
  stop(): Promise<void>;
}

export async function startSlowProxy(targetHost: string, targetPort: number, delayMs = 0): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  const proxy: SlowProxy = { port: 0, delayMs, stop: async () => undefined };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    // Chunks are forwarded in order: each waits for the previous one plus the delay.
    let chain = Promise.resolve();
    client.on('data', (chunk) => {
      const d = proxy.delayMs;
      chain = chain.then(() => new Promise<void>((r) => setTimeout(r, d))).then(() => void upstream.write(chunk));
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  proxy.port = typeof addr === 'object' && addr ? addr.port : 0;
  proxy.stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
