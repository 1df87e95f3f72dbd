/**
 * Stopping the uplink's MQTT link over a network that stalls or dies while something is in flight (endClient,
 * src/uplink/link.ts). mqtt.js ends gracefully by waiting for every acknowledgement, for ever and without a timer:
 * a gateway stopped then exited mid-stop with code 13 (found by the soak). A real mosquitto behind the test's TCP
 * proxy, which can hold live connections without moving a byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { makeCa, makeGateway } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { captureLogger, waitFor } from '../helpers/serial.js';
import { identityPaths } from '../../src/pki/identity.js';
import { MqttLink } from '../../src/uplink/link.js';
import { topics } from '../../src/uplink/wire.js';

const DEVICE = 'stop-gw';
const ca = makeCa();
const broker = withBroker({ caDir: ca.dir });
let proxy: TcpProxy;
let stateDir: string;

beforeAll(async () => {
  stateDir = makeGateway(ca.dir, { deviceId: DEVICE }).config.stateDir;
  proxy = await startProxy(broker.port);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
});

/** A link connected through the proxy, as the gateway builds it. */
async function connectedLink(): Promise<MqttLink> {
  const p = identityPaths(stateDir);
  const link = new MqttLink({
    url: `mqtts://127.0.0.1:${proxy.port}`,
    clientId: DEVICE,
    protocolVersion: 5,
    tls: { key: readFileSync(p.key, 'utf8'), cert: readFileSync(p.cert, 'utf8'), ca: readFileSync(broker.caCert, 'utf8') },
    window: 4,
    log: captureLogger().log,
    subscribe: [topics.state(DEVICE)],
    onMessage: () => {},
  });
  link.start();
  await waitFor(() => link.connected, 'the link connected', 10_000);
  // Something acknowledged first, so the connection is known to carry messages before it is held.
  expect(await (await link.send(topics.status(DEVICE), 'before', true)).acked).toBe(true);
  return link;
}

/** Milliseconds link.stop() took; a stop that never ends fails the test by its timeout. */
async function timedStop(link: MqttLink): Promise<number> {
  const t0 = Date.now();
  await link.stop();
  return Date.now() - t0;
}

describe('stopping the link with a message in flight', () => {
  it('over a stalled connection: closes it after the grace period instead of waiting for ever', async () => {
    const link = await connectedLink();
    proxy.freeze();
    try {
      await link.send(topics.status(DEVICE), 'in flight', true);
      const ms = await timedStop(link);
      expect(ms).toBeGreaterThanOrEqual(2900); // the graceful wait came first
      expect(ms).toBeLessThan(6000);
    } finally {
      proxy.resume();
    }
  }, 30_000);

  it('over a connection that dies while it waits: returns as soon as it is gone', async () => {
    const link = await connectedLink();
    proxy.freeze();
    await link.send(topics.status(DEVICE), 'in flight', true);
    const stopped = timedStop(link);
    setTimeout(() => proxy.cut(), 300);
    const ms = await stopped;
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
    proxy.resume();
  }, 30_000);
});
