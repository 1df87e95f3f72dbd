/**
 * A TCP forwarder between MQTT clients and the broker, to simulate a network that drops: cut() breaks the live
 * connections, pause() also keeps new ones from getting through until resume(). Connect clients to
 * 127.0.0.1:proxy.port; the TLS session is end to end with the broker (the proxy only moves bytes).
 */
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Destroy all live connections (both sides, so the broker sees the client go at once). */
  cut(): void;
  /**
   * Cut live connections and let no new one through until resume(). 'refuse' (default) closes new connections as
   * soon as they are accepted; 'stall' holds them without forwarding a byte (a black hole), and forwards them on
   * resume() with whatever the client sent meanwhile.
   */
  pause(mode?: 'refuse' | 'stall'): void;
  resume(): void;
  /** Live connections stay open but move no byte either way (a stalled network); resume() lets them go on. */
  freeze(): void;
  stop(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const live = new Set<Socket>();
  let stalled: Socket[] = [];
  const frozen = new Set<Socket>();
  let paused: false | 'refuse' | 'stall' = false;

  const track = (s: Socket): void => {
    live.add(s);
    s.on('close', () => live.delete(s));
    // Errors (ECONNRESET after a cut and the like) are the point of this proxy, not failures.
    s.on('error', () => {});
  };

  const forward = (client: Socket): void => {
    const upstream = connect({ host: targetHost, port: targetPort });
    track(upstream);
    // Either side closing closes the other, as a real end-to-end connection would.
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const server = createServer((client) => {
    track(client);
    if (paused === 'refuse') {
      client.destroy();
    } else if (paused === 'stall') {
      // Not reading: the bytes wait in the socket until resume() forwards them.
      client.pause();
      stalled.push(client);
    } else {
      forward(client);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('the proxy has no port');

  const cut = (): void => {
    for (const s of live) s.destroy();
    live.clear();
    stalled = [];
    frozen.clear();
  };

  return {
    port: addr.port,
    cut,
    pause: (mode = 'refuse') => {
      paused = mode;
      cut();
    },
    freeze: () => {
      for (const s of live) {
        if (stalled.includes(s)) continue; // not forwarded yet: resume() does that
        s.pause();
        frozen.add(s);
      }
    },
    resume: () => {
      for (const s of frozen) s.resume();
      frozen.clear();
      paused = false;
      for (const c of stalled.splice(0)) if (!c.destroyed) forward(c);
    },
    stop: async () => {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
