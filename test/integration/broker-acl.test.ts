/**
 * Acceptance of the broker setup of uplink-protocol.md §1-2 on a real mosquitto, run as in production (started as
 * root, it works as user `mosquitto` on files with the owners and modes of operations.md §11): mutual TLS with the
 * agency CA, the ACL that confines each device to its own topics and gives receivers theirs, the certificate's CN as
 * username and client ID, and the packet size limit, over MQTT 3.1.1 and 5. Every "never arrives" check is followed
 * by a permitted message on the same path that must arrive, so it cannot pass because nothing arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { freePort, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { MOSQUITTO, withBroker } from '../helpers/mosquitto.js';
import { deviceMqttOptions, receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { issueReceiverCertificate, signDeviceCsr } from '../../src/pki/ca.js';
import { MAX_PACKET_BYTES, uplinkAcl, writeMosquittoConfig } from '../../src/demo/mosquitto-config.js';
import { decodeChunk, encodeChunk, MAX_CHUNK_KIB, maxChunkLength, maxChunkPacketBytes, topics } from '../../src/uplink/wire.js';

const A = 'dev-a';
const B = 'dev-b';
/** A device ID receivers were named by before the namespaces: the attacker's device certificate. */
const X = 'receiver-1';
/** The longest device ID there is: the longest chunk topic. */
const LONG = `${'l'.repeat(60)}-max`;
const RECEIVER = 'receiver:1';
const SHARED = '$share/recgw-receivers/recgw/+/up/#';

interface Msg {
  topic: string;
  payload: string;
  bytes: number;
  retain: boolean;
}

/** A connected client that records what it receives and can wait for a message. */
interface Client {
  c: MqttClient;
  got: Msg[];
  waitFor(pred: (m: Msg) => boolean, what: string, ms?: number): Promise<Msg>;
}

let caCert: string;
let stateA: string;
let stateB: string;
let stateX: string;
let stateLong: string;
let caDir: string;
let receiverCert: string;
let receiverKey: string;
let foreignStateA: string;
let foreignCaCert: string;
const open: MqttClient[] = [];

const ca = makeCa();
const broker = withBroker({ caDir: ca.dir, receivers: [RECEIVER], dropPrivileges: true });

beforeAll(async () => {
  caDir = ca.dir;
  stateA = makeGateway(ca.dir, { deviceId: A }).config.stateDir;
  stateB = makeGateway(ca.dir, { deviceId: B }).config.stateDir;
  stateX = makeGateway(ca.dir, { deviceId: X }).config.stateDir;
  stateLong = makeGateway(ca.dir, { deviceId: LONG }).config.stateDir;
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
  caCert = broker.caCert;
}, 60_000);

afterAll(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true)));
});

/** Connect once (no retries); rejects with the reason if the broker or TLS refuses. */
function connect(opts: IClientOptions, protocolVersion: 4 | 5): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(broker.url, { ...opts, protocolVersion, reconnectPeriod: 0, connectTimeout: 5_000, clean: true });
    open.push(c);
    const got: Msg[] = [];
    const waiters = new Set<() => void>();
    c.on('message', (topic, payload, packet) => {
      got.push({ topic, payload: payload.toString(), bytes: payload.length, retain: packet.retain });
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
    expect(retained).toMatchObject({ topic: `recgw/${B}/status`, payload: genuine, retain: true });
    await close(a, b, rx, late);
  });

  it('drops what a device publishes under another device\'s alert topics; a late subscriber reads the genuine retained state', async () => {
    const rx = await receiver(v);
    await rx.c.subscribeAsync('$share/recgw-receivers/recgw/+/alert', { qos: 1 });
    const a = await device(stateA, v);
    const b = await device(stateB, v);
    const genuine = nonce();
    const forged = nonce();
    await b.c.publishAsync(`recgw/${B}/alert/state`, genuine, { qos: 1, retain: true });
    const alert = await outcome(a.c.publishAsync(`recgw/${B}/alert`, forged, { qos: 1 }));
    const state = await outcome(a.c.publishAsync(`recgw/${B}/alert/state`, forged, { qos: 1, retain: true }));
    expect([alert, state]).toEqual(v === 5 ? [0x87, 0x87] : ['ok', 'ok']);
    // Control: A's own alert, sent after the forgeries on the same connection, reaches the receivers' group.
    const control = nonce();
    await a.c.publishAsync(`recgw/${A}/alert`, control, { qos: 1 });
    await rx.waitFor((x) => x.topic === `recgw/${A}/alert` && x.payload === control, 'A\'s own alert');
    expect(rx.got.filter((x) => x.payload === forged)).toEqual([]);
    // A supervisor subscribing later reads B's own state at once, not the forgery.
    const late = await receiver(v);
    await late.c.subscribeAsync(`recgw/${B}/alert/state`, { qos: 1 });
    const retained = await late.waitFor((x) => x.topic === `recgw/${B}/alert/state`, 'B\'s retained alert state');
    expect(retained).toMatchObject({ payload: genuine, retain: true });
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
  it('a device certificate with ID receiver-1, the name receivers had, reads no other device\'s up/ or status', async () => {
    const rx = await receiver(v);
    await rx.c.subscribeAsync({ [SHARED]: { qos: 1 }, 'recgw/+/status': { qos: 1 } });
    const x = await device(stateX, v);
    // Everything a receiver reads, and more; mosquitto grants each and checks every delivery (see below).
    await x.c.subscribeAsync({ 'recgw/+/up/#': { qos: 1 }, [`recgw/${A}/up/#`]: { qos: 1 }, 'recgw/+/status': { qos: 1 }, '#': { qos: 1 } });
    const a = await device(stateA, v);
    const n = nonce();
    await a.c.publishAsync(`recgw/${A}/up/hello`, n, { qos: 1 });
    await a.c.publishAsync(`recgw/${A}/status`, n, { qos: 1 });
    await rx.waitFor((m) => m.topic === `recgw/${A}/up/hello` && m.payload === n, 'A\'s hello at the receiver');
    await rx.waitFor((m) => m.topic === `recgw/${A}/status` && m.payload === n, 'A\'s status at the receiver');
    // Control on the attacker's connection, sent once A's messages had been delivered: its own state arrives.
    const control = nonce();
    await rx.c.publishAsync(`recgw/${X}/down/state`, control, { qos: 1 });
    await x.waitFor((m) => m.payload === control, 'its own state (control)');
    expect(x.got.map((m) => m.topic)).toEqual([`recgw/${X}/down/state`]);
    await close(a, x, rx);
  });

  it('a device certificate with ID receiver-1 publishes on no other gateway\'s down/', async () => {
    const rx = await receiver(v);
    const a = await device(stateA, v);
    await a.c.subscribeAsync(`recgw/${A}/down/#`, { qos: 1 });
    const x = await device(stateX, v);
    const forged = nonce();
    const state = await outcome(x.c.publishAsync(`recgw/${A}/down/state`, forged, { qos: 1 }));
    const receipt = await outcome(x.c.publishAsync(`recgw/${A}/down/receipt`, forged, { qos: 1 }));
    expect([state, receipt]).toEqual(v === 5 ? [0x87, 0x87] : ['ok', 'ok']);
    // Control: the receiver's genuine state on the same topic, sent after the forgeries, arrives alone.
    const genuine = nonce();
    await rx.c.publishAsync(`recgw/${A}/down/state`, genuine, { qos: 1 });
    await a.waitFor((m) => m.payload === genuine, 'the receiver\'s state (control)');
    expect(a.got.map((m) => [m.topic, m.payload])).toEqual([[`recgw/${A}/down/state`, genuine]]);
    await close(a, x, rx);
  });

  it('a certificate that names another device\'s client ID does not take over its connection', async () => {
    const a = await device(stateA, v);
    let aClosed = false;
    a.c.on('close', () => (aClosed = true));
    // mosquitto ends the older of two connections with one client ID: the intruder asks for A's.
    const x = await connect({ ...deviceMqttOptions(stateX, caCert), clientId: A }, v);
    await x.c.subscribeAsync(`recgw/${X}/down/#`, { qos: 1 });
    const rx = await receiver(v);
    const n = nonce();
    await rx.c.publishAsync(`recgw/${X}/down/state`, n, { qos: 1 });
    await x.waitFor((m) => m.payload === n, 'the intruder\'s own state');
    // Control: A still has its connection (it publishes), and the broker knows the intruder by its certificate.
    expect(aClosed).toBe(false);
    expect(await outcome(a.c.publishAsync(`recgw/${A}/up/hello`, n, { qos: 1 }))).toBe('ok');
    expect(readFileSync(broker.logFile, 'utf8')).not.toContain(`Client ${A} already connected, closing old connection.`);
    await close(a, x, rx);
  });

  it('refuses a packet above max_packet_size and delivers a chunk of the largest size a gateway sends', async () => {
    const rx = await receiver(v);
    await rx.c.subscribeAsync(SHARED, { qos: 1 });
    const topic = topics.chunk(LONG);
    // A genuine chunk as large as one can be: the largest chunkKiB with its tail, the longest names and numbers.
    const data = randomBytes(maxChunkLength(MAX_CHUNK_KIB * 1024));
    const size = Number.MAX_SAFE_INTEGER;
    const chunk = encodeChunk({ v: 1, device: LONG, name: `S${'s'.repeat(199)}`, offset: size - data.length, size, sha256: 'f'.repeat(64), deadline: new Date().toISOString() }, data);
    expect(decodeChunk(chunk, LONG).ok).toBe(true);
    // The whole PUBLISH: fixed header (a 4-byte remaining length), topic, packet ID, MQTT 5 property length.
    const overhead = 1 + 4 + 2 + Buffer.byteLength(topic) + 2 + (v === 5 ? 1 : 0);
    expect(overhead + chunk.length).toBeLessThanOrEqual(MAX_PACKET_BYTES);
    // mosquitto 2.0 counts a packet without the 1-4 bytes of its remaining length: at most 4 bytes of slack.
    const atLimit = randomBytes(MAX_PACKET_BYTES - overhead + 4);
    const over = randomBytes(MAX_PACKET_BYTES - overhead + 5);
    const arrived = (p: Buffer): Promise<unknown> => rx.waitFor((m) => m.topic === topic && m.bytes === p.length, `${p.length} bytes`, 20_000);

    const dev = await device(stateLong, v);
    await dev.c.publishAsync(topic, chunk, { qos: 1 });
    await dev.c.publishAsync(topic, atLimit, { qos: 1 });
    await arrived(chunk);
    await arrived(atLimit);

    // One byte more: the broker ends the connection unread and passes nothing on. (Under MQTT 5 it first sends
    // DISCONNECT 0x95 Packet too large, which a client still writing the packet may not get to read.)
    const closed = new Promise<void>((r) => dev.c.once('close', () => r()));
    dev.c.publish(topic, over, { qos: 1 }, () => undefined);
    await closed;
    // Control on the same topic, after the refused packet, from the same device: it arrives.
    const again = await device(stateLong, v);
    const control = nonce();
    await again.c.publishAsync(topic, control, { qos: 1 });
    await rx.waitFor((m) => m.topic === topic && m.payload === control, 'the control after the refused packet');
    expect(rx.got.map((m) => m.bytes)).toEqual([chunk.length, atLimit.length, control.length]);
    expect(readFileSync(broker.logFile, 'utf8')).toContain(`Client ${LONG} disconnected due to oversize packet.`);
    await close(again, rx);
    dev.c.end(true);
  }, 60_000);
});

describe('roles at the CA', () => {
  /** A CSR made as an attacker would, with the openssl command line, naming whatever CN it likes. */
  function opensslCsr(cn: string): string {
    const d = tmp('recgw-csr-');
    execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'key.pem'), '-out', join(d, 'csr.pem'), '-subj', `/CN=${cn}/OU=recgw-device`], { stdio: 'pipe' });
    return readFileSync(join(d, 'csr.pem'), 'utf8');
  }

  it('issues no device certificate for a receiver name, nor a receiver certificate for a device ID', () => {
    expect(() => signDeviceCsr({ caDir, csrPem: opensslCsr(RECEIVER) })).toThrow(/^refusing to sign the CSR: its CN "receiver:1" is a receiver name, not a device ID: the broker gives a receiver name every device's uploads/);
    expect(() => issueReceiverCertificate({ caDir, name: A })).toThrow(/^refusing to issue a receiver certificate: receiver name "dev-a" has the form of a device ID: a gateway enrolled with that ID would get this receiver's rights/);
    // Controls: the same requests in the right namespace are issued.
    expect(signDeviceCsr({ caDir, csrPem: opensslCsr(X) }).deviceId).toBe(X);
    expect(issueReceiverCertificate({ caDir, name: 'receiver:dev-a' }).certPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });
});

describe('mosquitto dropping privileges', () => {
  const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const mosquittoUid = (): number => Number(execFileSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' }).trim());

  it('runs as user mosquitto on the files with the documented owners and modes', () => {
    expect(uidOf(broker.pid()!)).toBe(mosquittoUid());
    const mode = (f: string): string => (statSync(join(broker.dir, f)).mode & 0o777).toString(8);
    expect(['', 'ca.pem', 'server.pem', 'server-key.pem', 'acl'].map(mode)).toEqual(['750', '644', '644', '640', '640']);
  });

  it('docs/operations.md §11 and uplink-protocol.md §2 document the config and ACL run here', () => {
    const docs = (f: string): string => readFileSync(join(import.meta.dirname, '../../docs', f), 'utf8');
    const documented = /conf\.d\/recgw\.conf`:\n\n```\n([\s\S]*?)```/.exec(docs('operations.md'))![1]!.trim().split('\n');
    const tested = readFileSync(join(broker.dir, 'mosquitto.conf'), 'utf8').trim().split('\n');
    // Paths, the listener's address and logging differ on purpose (Debian's mosquitto.conf sets persistence and
    // the log); per_listener_settings false is mosquitto's default; `user` only the tests that do not drop set.
    const local = new Set(['acl_file', 'listener', 'cafile', 'certfile', 'keyfile', 'log_dest', 'log_type', 'connection_messages', 'log_timestamp_format', 'persistence', 'per_listener_settings', 'user']);
    const shared = (lines: string[]): string[] => lines.filter((l) => !local.has(l.split(' ')[0]!));
    expect(shared(documented)).toEqual(shared(tested));
    expect(shared(tested)).toContain(`max_packet_size ${MAX_PACKET_BYTES}`);
    expect(documented.map((l) => l.split(' ')[0])).toEqual(expect.arrayContaining(['acl_file', 'listener', 'cafile', 'certfile', 'keyfile']));
    const protocol = docs('uplink-protocol.md');
    expect(protocol).toContain(`\`max_packet_size ${MAX_PACKET_BYTES}\``);
    const [, perKiB, plus] = /`C x (\d+) \+ (\d+)`/.exec(protocol)!;
    for (const c of [16, 1024, MAX_CHUNK_KIB]) expect(c * Number(perKiB) + Number(plus)).toBe(maxChunkPacketBytes(c));
    const acl = /```\n(pattern write[\s\S]*?)```/.exec(protocol)![1];
    expect(acl).toBe(uplinkAcl([RECEIVER]));
    expect(readFileSync(join(broker.dir, 'acl'), 'utf8')).toBe(acl);
  });

  it('does not start when it cannot read a file, and its log names the file', async () => {
    const dir = tmp('recgw-mosquitto-');
    const files = writeMosquittoConfig({ dir, caDir, port: await freePort(), receivers: [RECEIVER], dropPrivileges: true });
    chmodSync(join(dir, 'server-key.pem'), 0o600);
    const r = spawnSync(MOSQUITTO, ['-c', files.confFile], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(readFileSync(files.logFile, 'utf8')).toContain(`Error: Unable to load server key file "${join(dir, 'server-key.pem')}". Check keyfile.`);
    // Control: with the documented mode, the same config starts (it runs until stopped).
    chmodSync(join(dir, 'server-key.pem'), 0o640);
    const ok = spawnSync(MOSQUITTO, ['-c', files.confFile], { encoding: 'utf8', timeout: 1_500 });
    expect(ok.error).toMatchObject({ code: 'ETIMEDOUT' });
    expect(readFileSync(files.logFile, 'utf8')).toMatch(/mosquitto version 2\.0\.\d+ running/);
  });
});
