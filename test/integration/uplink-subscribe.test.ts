/**
 * Subscribing on a (re)connect (subscribeOnConnect, src/uplink/link.ts), used by the gateway's link and the
 * receiver. A refusal is a configuration error to name; a connection ended before the broker answered is not an
 * error at all (a soak run logged one as an error when a gateway was stopped while it connected).
 * The broker is the demo's embedded one (aedes, MQTT 3.1.1, TLS with the agency CA): it refuses what its ACL does
 * not allow, where mosquitto 2.0 grants every subscription and checks each delivery instead (broker-acl.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { captureLogger, waitFor } from '../helpers/serial.js';
import { receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { makeReceiver } from '../helpers/uplink-world.js';
import { issueServerCertificate } from '../../src/pki/ca.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/demo/broker.js';
import { Receiver } from '../../src/receiver/receiver.js';
import { subscribeOnConnect } from '../../src/uplink/link.js';

let caDir: string;
let broker: EmbeddedBroker;

beforeAll(async () => {
  const ca = makeCa();
  caDir = ca.dir;
  const server = issueServerCertificate({ caDir, names: ['localhost', '127.0.0.1'] });
  broker = await startEmbeddedBroker({ key: server.keyPem, cert: server.certPem, ca: readFileSync(ca.paths.caCert, 'utf8') });
}, 30_000);

afterAll(async () => {
  await broker?.stop();
  cleanupTmp();
});

/** A receiver started in this process; resolves whether it became ready within `ms`, with its log. */
async function receiverReady(shareGroup: string | null, ms: number): Promise<{ ready: boolean; lines: ReturnType<ReturnType<typeof captureLogger>['lines']> }> {
  const rx = makeReceiver(caDir, `receiver:${shareGroup ?? 'plain'}`, broker.url, { protocolVersion: 4, shareGroup });
  const { log, lines } = captureLogger();
  const r = new Receiver(rx.config, log);
  await r.start();
  try {
    const ready = await Promise.race([r.ready().then(() => true), sleep(ms).then(() => false)]);
    return { ready, lines: lines() };
  } finally {
    await r.stop();
  }
}

describe('subscribing on connect', () => {
  it('a receiver whose subscription the broker refuses says so as an error naming the topic, and is not ready', async () => {
    // The embedded broker has no shared subscriptions and its ACL allows receivers only the plain filter.
    const refused = await receiverReady('recgw-receivers', 1500);
    expect(refused.ready).toBe(false);
    const errors = refused.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => [l.msg, l.topics])).toEqual([
      ['the broker did not grant the subscription: check that its ACL lets this client read these topics', ['$share/recgw-receivers/recgw/+/up/#', '$share/recgw-receivers/recgw/+/alert']],
    ]);

    // Control: the filter the ACL allows, on the same broker, is granted.
    const granted = await receiverReady(null, 10_000);
    expect(granted.ready).toBe(true);
    expect(granted.lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 30_000);

  it('a connection ended before the broker answered is logged as info, and nothing is told subscribed', async () => {
    const rx = makeReceiver(caDir, 'receiver:ending', broker.url, { protocolVersion: 4, shareGroup: null });
    const client = mqtt.connect(broker.url, { ...receiverMqttOptions(rx.config.tls.cert, rx.config.tls.key, rx.config.agency.caCert), protocolVersion: 4, reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    // As when the gateway stops while its link is connecting: the client is ending when 'connect' is handled.
    const ended = client.endAsync();
    const { log, lines } = captureLogger();
    const told: boolean[] = [];
    subscribeOnConnect(client, 'recgw/+/up/#', log, (granted) => told.push(granted));
    await ended;
    const line = await waitFor(() => lines().find((l) => l.msg === 'the connection ended while subscribing; subscribing again on the next one'), 'the info line');
    expect(line.level).toBe('info');
    expect(lines().filter((l) => l.level === 'error')).toEqual([]);
    expect(told).toEqual([]);
  }, 30_000);
});
