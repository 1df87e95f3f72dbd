/**
 * Acceptance of the broker setup of uplink-protocol.md §1-2 on a real mosquitto: mutual TLS with the agency CA and
 * the ACL that confines each device to its own topics, over MQTT 3.1.1 and 5. Every "never arrives" check is
 * followed by a permitted message on the same path that must arrive, so it cannot pass because nothing arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { deviceMqttOptions, receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { issueReceiverCertificate } from '../../src/pki/ca.js';

const A = 'dev-a';
const B = 'dev-b';
const RECEIVER = 'receiver-1';
const SHARED = '$share/recgw-receivers/recgw/+/up/#';

interface Msg {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A connected client that records what it receives and can wait for a message. */
interface Client {
  c: MqttClient;
  got: Msg[];
  waitFor(pred: (m: Msg) => boolean, what: string, ms?: number): Promise<Msg>;
}

let broker: Mosquitto;
let caCert: string;
let stateA: string;
let stateB: string;
let receiverCert: string;
let receiverKey: string;
let foreignStateA: string;
let foreignCaCert: string;
const open: MqttClient[] = [];

beforeAll(async () => {
  const ca = makeCa();
  stateA = makeGateway(ca.dir, { deviceId: A }).config.stateDir;
  stateB = makeGateway(ca.dir, { deviceId: B }).config.stateDir;
  const rx = issueReceiverCertificate({ caDir: ca.dir, name: RECEIVER });
  const d = tmp('recgw-receiver-');
  receiverCert = join(d, 'receiver.pem');
  receiverKey = join(d, 'receiver-key.pem');
  writeFileSync(receiverCert, rx.certPem);
  writeFileSync(receiverKey, rx.keyPem, { mode: 0o600 });
  // The same device ID enrolled with another agency's CA: the CN alone must not get it in.
  const foreign = makeCa();
  foreignCaCert = foreign.paths.caCert;
  foreignStateA = makeGateway(foreign.dir, { deviceId: A }).config.stateDir;
  broker = await startMosquitto({ caDir: ca.dir, receivers: [RECEIVER] });
  caCert = broker.caCert;
}, 60_000);

afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  cleanupTmp();
});

/** Connect once (no retries); rejects with the reason if the broker or TLS refuses. */
function connect(opts: IClientOptions, protocolVersion: 4 | 5): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(broker.url, { ...opts, protocolVersion, reconnectPeriod: 0, connectTimeout: 5_000, clean: true });
    open.push(c);
    const got: Msg[] = [];
    const waiters = new Set<() => void>();
    c.on('message', (topic, payload, packet) => {
      got.push({ topic, payload: payload.toString(), retain: packet.retain });
      for (const w of waiters) w();
    });
    const waitFor = (pred: (m: Msg) => boolean, what: string, ms = 5_000): Promise<Msg> =>
      new Promise((res, rej) => {
        const check = (): void => {
          const m = got.find(pred);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(t);
          res(m);
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`timed out waiting for ${what}; got ${JSON.stringify(got)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    c.once('connect', () => resolve({ c, got, waitFor }));
    c.on('error', (err) => {
      c.end(true);
      reject(err);
    });
    c.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

const device = (stateDir: string, v: 4 | 5): Promise<Client> => connect(deviceMqttOptions(stateDir, caCert), v);
const receiver = (v: 4 | 5): Promise<Client> => connect(receiverMqttOptions(receiverCert, receiverKey, caCert), v);

async function close(...cs: Client[]): Promise<void> {
  await Promise.all(cs.map((x) => x.c.endAsync()));
}

/** The reason code of a rejected QoS 1 publish or subscribe, or 'ok' when the broker accepted it. */
async function outcome(p: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number') throw err;
    return code;
  }
}

describe.each([
  { v: 4 as const, name: 'MQTT 3.1.1' },
  { v: 5 as const, name: 'MQTT 5' },
])('mosquitto with the uplink ACL, $name', ({ v }) => {
  const nonce = (): string => `${v}-${Math.random().toString(36).slice(2)}`;

  it('delivers a device\'s own up/ messages to the shared receiver subscription', async () => {
    const rx = await receiver(v);
    await rx.c.subscribeAsync(SHARED, { qos: 1 });
    const a = await device(stateA, v);
    const n = nonce();
    await a.c.publishAsync(`recgw/${A}/up/hello`, n, { qos: 1 });
    const m = await rx.waitFor((x) => x.payload === n, 'the hello');
    expect(m.topic).toBe(`recgw/${A}/up/hello`);
    await close(a, rx);
  });

  it('drops what a device publishes under another device\'s up/ and status', async () => {
    const rx = await receiver(v);
    await rx.c.subscribeAsync({ [SHARED]: { qos: 1 }, 'recgw/+/status': { qos: 1 } });
    const a = await device(stateA, v);
    const b = await device(stateB, v);
    const genuine = nonce();
    const forged = nonce();
    // B's own retained status first: the forged one must not replace it.
    await b.c.publishAsync(`recgw/${B}/status`, genuine, { qos: 1, retain: true });
    await rx.waitFor((x) => x.payload === genuine, 'B\'s own status');

    const hello = await outcome(a.c.publishAsync(`recgw/${B}/up/hello`, forged, { qos: 1 }));
    const status = await outcome(a.c.publishAsync(`recgw/${B}/status`, forged, { qos: 1, retain: true }));
    // MQTT 3.1.1 has no way to say no in a PUBACK: mosquitto acknowledges and drops. MQTT 5: 0x87 Not authorized.
    expect([hello, status]).toEqual(v === 5 ? [0x87, 0x87] : ['ok', 'ok']);

    // Controls on both subscriptions, published after the forged messages on the same connection.
    const control = nonce();
    await a.c.publishAsync(`recgw/${A}/up/hello`, control, { qos: 1 });
    await a.c.publishAsync(`recgw/${A}/status`, control, { qos: 1 });
    await rx.waitFor((x) => x.topic === `recgw/${A}/up/hello` && x.payload === control, 'A\'s control hello');
    await rx.waitFor((x) => x.topic === `recgw/${A}/status` && x.payload === control, 'A\'s control status');
    expect(rx.got.filter((x) => x.payload === forged)).toEqual([]);

    // A late subscriber sees B's retained status, not the forgery.
    const late = await receiver(v);
    await late.c.subscribeAsync(`recgw/${B}/status`, { qos: 1 });
    const retained = await late.waitFor((x) => x.topic === `recgw/${B}/status`, 'B\'s retained status');
    expect(retained).toEqual({ topic: `recgw/${B}/status`, payload: genuine, retain: true });
    await close(a, b, rx, late);
  });

  it('does not let a device read another device\'s down/ messages', async () => {
    const rx = await receiver(v);
    const a = await device(stateA, v);
    const b = await device(stateB, v);
    await a.c.subscribeAsync(`recgw/${A}/down/#`, { qos: 1 });
    // mosquitto 2.0.11 grants the subscription (SUBACK QoS 1, no 0x80/0x87 on either version) and instead checks
    // read access on each message it would deliver: so the proof is in what arrives, below.
    const granted = await a.c.subscribeAsync(`recgw/${B}/down/#`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    await b.c.subscribeAsync(`recgw/${B}/down/#`, { qos: 1 });

    const forB = nonce();
    const forA = nonce();
    expect(await outcome(rx.c.publishAsync(`recgw/${B}/down/state`, forB, { qos: 1 }))).toBe('ok');
    await rx.c.publishAsync(`recgw/${A}/down/state`, forA, { qos: 1 });
    await b.waitFor((x) => x.payload === forB, 'B\'s state');
    await a.waitFor((x) => x.payload === forA, 'A\'s own state (control)');
    expect(a.got.map((x) => x.topic)).toEqual([`recgw/${A}/down/state`]);
    await close(a, b, rx);
  });

  it('refuses clients without a certificate or with one from another CA, and clients refuse a foreign broker', async () => {
    const noCert = connect({ ca: deviceMqttOptions(stateA, caCert).ca, rejectUnauthorized: true }, v);
    await expect(noCert).rejects.toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    await expect(device(foreignStateA, v)).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' });
    // A gateway that trusts another agency's CA does not accept this broker's certificate (mosquitto sends the CA along).
    await expect(connect(deviceMqttOptions(stateA, foreignCaCert), v)).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    // Control: the same device ID with the agency's certificate gets in.
    await close(await device(stateA, v));
  });
});
