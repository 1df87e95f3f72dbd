/**
 * The demo's embedded broker (aedes, MQTT 3.1.1; src/demo/broker.ts) applies the rules of the documented mosquitto:
 * a device certificate whose ID is `receiver-1` is a device like any other, a certificate whose name is outside its
 * role's namespace gets nothing (made here with the openssl command line and the CA key, as a CA that does not check
 * the namespaces would), and nothing above mosquitto's max_packet_size is passed on. Every "never arrives" check is
 * followed by a permitted message on the same path that must arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { deviceMqttOptions, receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { caPaths, issueReceiverCertificate, issueServerCertificate } from '../../src/pki/ca.js';
import { publishPacketBytes, startEmbeddedBroker, type EmbeddedBroker } from '../../src/demo/broker.js';
import { MAX_PACKET_BYTES } from '../../src/demo/mosquitto-config.js';
import { encodeChunk, MAX_CHUNK_KIB, maxChunkLength, topics } from '../../src/uplink/wire.js';

const A = 'dev-a';
const X = 'receiver-1';
const LONG = `${'l'.repeat(60)}-max`;
const RECEIVER = 'receiver:1';

let broker: EmbeddedBroker;
let caCert: string;
const state: Record<string, string> = {};
const certs: Record<string, { cert: string; key: string }> = {};
const open: MqttClient[] = [];

/** A client certificate with any subject, signed with the CA key by the openssl command line. */
function opensslCert(caDir: string, subject: string): { cert: string; key: string } {
  const d = tmp('recgw-cert-');
  const [key, csr, cert, ext] = ['key.pem', 'csr.pem', 'cert.pem', 'ext.cnf'].map((f) => join(d, f)) as [string, string, string, string];
  writeFileSync(ext, 'extendedKeyUsage = clientAuth\n');
  execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject], { stdio: 'pipe' });
  const p = caPaths(caDir);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', p.caCert, '-CAkey', p.caKey, '-set_serial', '7', '-days', '1', '-extfile', ext, '-out', cert], { stdio: 'pipe' });
  return { cert, key };
}

beforeAll(async () => {
  const ca = makeCa();
  caCert = ca.paths.caCert;
  for (const id of [A, X, LONG]) state[id] = makeGateway(ca.dir, { deviceId: id }).config.stateDir;
  const rx = issueReceiverCertificate({ caDir: ca.dir, name: RECEIVER });
  const d = tmp('recgw-receiver-');
  certs.receiver = { cert: join(d, 'rx.pem'), key: join(d, 'rx-key.pem') };
  writeFileSync(certs.receiver.cert, rx.certPem);
  writeFileSync(certs.receiver.key, rx.keyPem, { mode: 0o600 });
  certs.deviceNamedReceiver = opensslCert(ca.dir, `/CN=${RECEIVER}/OU=recgw-device`);
  certs.receiverNamedDevice = opensslCert(ca.dir, '/CN=dev-b/OU=recgw-receiver');
  const server = issueServerCertificate({ caDir: ca.dir, names: ['localhost', '127.0.0.1'] });
  broker = await startEmbeddedBroker({ key: server.keyPem, cert: server.certPem, ca: readFileSync(caCert, 'utf8') });
}, 60_000);

afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  cleanupTmp();
});

interface Client {
  c: MqttClient;
  got: { topic: string; payload: string; bytes: number }[];
  waitFor(pred: (m: { topic: string; payload: string; bytes: number }) => boolean, what: string): Promise<void>;
}

async function connect(opts: IClientOptions): Promise<Client> {
  const c = await mqtt.connectAsync(broker.url, { ...opts, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
  open.push(c);
  const got: Client['got'] = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString(), bytes: payload.length }));
  const waitFor: Client['waitFor'] = async (pred, what) => {
    for (let i = 0; i < 200; i++) {
      if (got.some(pred)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(got.map((m) => m.topic))}`);
  };
  return { c, got, waitFor };
}

const device = (id: string): Promise<Client> => connect(deviceMqttOptions(state[id]!, caCert));
const tls = (k: { cert: string; key: string }): IClientOptions => receiverMqttOptions(k.cert, k.key, caCert);
/** The QoS the broker grants a subscription, or 128 when it refuses it (mqtt.js rejects on that). */
async function granted(c: Client, filter: string): Promise<number> {
  try {
    return (await c.c.subscribeAsync(filter, { qos: 1 }))[0]!.qos;
  } catch (err) {
    const codes = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (codes?.length !== 1) throw err;
    return codes[0]!;
  }
}
const nonce = (): string => Math.random().toString(36).slice(2);

describe('the embedded broker keeps roles apart', () => {
  it('a device with ID receiver-1 reads no other device\'s up/ and publishes on no other gateway\'s down/', async () => {
    const rx = await connect(tls(certs.receiver!));
    expect(await granted(rx, 'recgw/+/up/#')).toBe(1);
    const x = await device(X);
    // aedes refuses in the SUBACK what its rules do not allow (0x80); the device's own down/ is granted.
    expect(await granted(x, 'recgw/+/up/#')).toBe(128);
    expect(await granted(x, `recgw/${X}/down/#`)).toBe(1);
    const a = await device(A);
    expect(await granted(a, `recgw/${A}/down/#`)).toBe(1);
    const n = nonce();
    await a.c.publishAsync(`recgw/${A}/up/hello`, n, { qos: 1 });
    await rx.waitFor((m) => m.payload === n, 'A\'s hello at the receiver');
    // The forged state: aedes drops it and ends the forger's connection.
    const ended = new Promise<void>((r) => x.c.once('close', () => r()));
    x.c.publish(`recgw/${A}/down/state`, n, { qos: 1 }, () => undefined);
    await ended;
    // Controls on the same paths: the receiver's genuine state for A, and one for the device's own down/.
    const genuine = nonce();
    await rx.c.publishAsync(`recgw/${A}/down/state`, genuine, { qos: 1 });
    await a.waitFor((m) => m.payload === genuine, 'the genuine state');
    expect(a.got.map((m) => m.payload)).toEqual([genuine]);
    const x2 = await device(X);
    expect(await granted(x2, `recgw/${X}/down/#`)).toBe(1);
    await rx.c.publishAsync(`recgw/${X}/down/state`, genuine, { qos: 1 });
    await x2.waitFor((m) => m.payload === genuine, 'its own state');
    expect(x.got).toEqual([]);
  });

  it('a certificate whose name is outside its role\'s namespace gets nothing', async () => {
    const deviceNamedReceiver = await connect(tls(certs.deviceNamedReceiver!));
    expect(await granted(deviceNamedReceiver, `recgw/${RECEIVER}/down/#`)).toBe(128);
    expect(await granted(deviceNamedReceiver, 'recgw/+/up/#')).toBe(128);
    const receiverNamedDevice = await connect(tls(certs.receiverNamedDevice!));
    expect(await granted(receiverNamedDevice, 'recgw/+/up/#')).toBe(128);
    expect(await granted(receiverNamedDevice, 'recgw/dev-b/down/#')).toBe(128);
    // Controls: the same filters for certificates in their namespaces.
    expect(await granted(await connect(tls(certs.receiver!)), 'recgw/+/up/#')).toBe(1);
    expect(await granted(await device(X), `recgw/${X}/down/#`)).toBe(1);
  });

  it('passes a chunk of the largest size a gateway sends and nothing above max_packet_size', async () => {
    const rx = await connect(tls(certs.receiver!));
    expect(await granted(rx, 'recgw/+/up/#')).toBe(1);
    const topic = topics.chunk(LONG);
    const data = randomBytes(maxChunkLength(MAX_CHUNK_KIB * 1024));
    const size = Number.MAX_SAFE_INTEGER;
    const chunk = encodeChunk({ v: 1, device: LONG, name: `S${'s'.repeat(199)}`, offset: size - data.length, size, sha256: 'f'.repeat(64), deadline: new Date().toISOString() }, data);
    // The payload that makes a packet of exactly max_packet_size (its remaining length takes 4 bytes there).
    const atLimit = MAX_PACKET_BYTES - (publishPacketBytes(topic, 1 << 22) - (1 << 22));
    expect(publishPacketBytes(topic, atLimit)).toBe(MAX_PACKET_BYTES);
    const dev = await device(LONG);
    await dev.c.publishAsync(topic, chunk, { qos: 1 });
    await rx.waitFor((m) => m.bytes === chunk.length, 'the largest chunk');
    const ended = new Promise<void>((r) => dev.c.once('close', () => r()));
    dev.c.publish(topic, randomBytes(atLimit + 1), { qos: 1 }, () => undefined);
    await ended;
    const again = await device(LONG);
    await again.c.publishAsync(topic, randomBytes(atLimit), { qos: 1 });
    await rx.waitFor((m) => m.bytes === atLimit, 'a packet of exactly max_packet_size');
    expect(rx.got.map((m) => m.bytes)).toEqual([chunk.length, atLimit]);
  }, 30_000);
});
