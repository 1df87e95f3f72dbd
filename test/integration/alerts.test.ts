/**
 * Issue 16.9, "report at once": a gateway (`recgw run`, recording a simulated camera) publishes each interruption and
 * an early end of its session as an alert through a real mosquitto (TLS, client certificates, the shipped ACL) while
 * its upload is held back by a 1 KiB/s bandwidth cap; `recgw receiver` records each within seconds, long before the
 * upload brings the entry; a fresh subscriber reads the retained state; `recgw report` lists the alerts with their
 * delays in Beijing time. Then the attacks: alerts signed by the wrong key, for another device, with a foreign
 * certificate, of an entry that is no alert, and payloads that are no alert at all, each refused with its reason
 * while the receiver keeps working. (The broker's side, a device publishing on another's alert topics, is in
 * broker-acl.test.ts with the production broker setup.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { sleep } from '../helpers/evidence.js';
import { makeReceiver, startReceiver, storedSegments, type ReceiverProcess } from '../helpers/uplink-world.js';
import { deviceMqttOptions, receiverMqttOptions } from '../helpers/mqtt-clients.js';
import { stateDbPath } from '../../src/app/evidence-core.js';
import { attachSignature, encodeUnsigned, GENESIS_PREV } from '../../src/evidence/entry.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { ENTRY } from '../../src/evidence/types.js';
import { identityPaths } from '../../src/pki/identity.js';
import type { AlertRecord } from '../../src/receiver/alerts-file.js';
import type { AlertMessage, AlertState } from '../../src/uplink/alert-wire.js';
import { topics } from '../../src/uplink/wire.js';
import type { StoreReport } from '../../src/report/types.js';
import { localClock } from '../../src/util/local-time.js';
import type { Provisioned } from '../../src/demo/provision.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const A = 'room-alert';
const B = 'room-other';
/** From the event to its record at the receiver, at most (it takes well under a second on an idle machine). */
const PROMPT_MS = 5000;

const ca = makeCa();
const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1', 'receiver:watch'] });

let gw: Provisioned;
let other: Provisioned;
let rx: ReturnType<typeof makeReceiver>;
let r: ReceiverProcess;
let g: GatewayProcess | undefined;
let watchTls: { cert: string; key: string };

beforeAll(async () => {
  gw = makeGateway(ca.dir, {
    deviceId: A,
    config: {
      time: { source: 'host', assumeSynchronised: true },
      recording: { segmentSeconds: 2, sources: [{ id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 240, fps: 10, bitrateKbps: 1000 }] },
      // A metered link: a segment of ~250 KB takes minutes, and entries written meanwhile wait for it.
      uplink: { broker: broker.url, answerTimeoutSeconds: 2, chunkKiB: 16, maxBytesPerSecond: 1024 },
    },
  });
  other = makeGateway(ca.dir, { deviceId: B });
  rx = makeReceiver(ca.dir, 'receiver:1', broker.url);
  watchTls = makeReceiver(ca.dir, 'receiver:watch', broker.url).config.tls;
  r = await startReceiver(rx);
}, 60_000);

afterAll(async () => {
  if (g && g.proc.exitCode === null) await g.kill9();
  if (r.proc.exitCode === null) await r.stop();
});

const store = (): string => rx.config.store;

function records(device: string): AlertRecord[] {
  const p = join(store(), device, 'alerts.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
}

async function until<T>(what: string, get: () => T | undefined, ms = PROMPT_MS, also: () => string = () => ''): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${also()}`);
    await sleep(20);
  }
}

/** The record of the alert of `kind` after the first `after` records, once the receiver has it. */
const recorded = (kind: AlertRecord['kind'], after: number): Promise<AlertRecord> =>
  until(`a ${kind} alert at the receiver`, () => records(A).slice(after).find((x) => x.kind === kind), PROMPT_MS, () => (g?.log() ?? '') + r.log());

/** The receiver's log line with `text` (it follows the record, which is written first). */
const logged = (text: string): Promise<boolean> => until(`the receiver's log line ${text}`, () => (r.log().includes(text) ? true : undefined), PROMPT_MS, () => r.log());

/** What a subscriber that comes now reads at once on the retained state topic. */
async function freshState(): Promise<{ state: AlertState; retain: boolean }> {
  const c = await mqtt.connectAsync(broker.url, { ...receiverMqttOptions(watchTls.cert, watchTls.key, ca.paths.caCert), protocolVersion: 5, reconnectPeriod: 0 });
  try {
    const got = new Promise<{ state: AlertState; retain: boolean }>((resolve) => c.on('message', (_t, p, packet) => resolve({ state: JSON.parse(p.toString()) as AlertState, retain: packet.retain })));
    await c.subscribeAsync(topics.alertState(A), { qos: 1 });
    return await Promise.race([got, sleep(3000).then(() => Promise.reject(new Error('no retained alert state')))]);
  } finally {
    await c.endAsync();
  }
}

/**
 * The retained state a fresh subscriber reads, once it is as `ok` says: the state follows its alert at once, so a
 * subscriber that came in between reads the one before. Each try is a new subscriber.
 */
async function stateWhen(what: string, ok: (s: AlertState) => boolean): Promise<{ state: AlertState; retain: boolean }> {
  const end = Date.now() + PROMPT_MS;
  for (;;) {
    const got = await freshState();
    if (ok(got.state)) return got;
    if (Date.now() > end) throw new Error(`the retained alert state is not ${what}: ${JSON.stringify(got.state)}`);
    await sleep(100);
  }
}

const storedLedger = (): string => (existsSync(join(store(), A, 'ledger.jsonl')) ? readFileSync(join(store(), A, 'ledger.jsonl'), 'utf8') : '');

function sealedSegments(): { name: string; size: number }[] {
  const db = new Database(stateDbPath(gw.config.stateDir), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT name, stored_size AS size FROM segments').all() as { name: string; size: number }[];
  } finally {
    db.close();
  }
}

describe('alerts from a recording gateway', () => {
  it('reach the receiver within seconds while the upload is held back; the retained state shows what is open', async () => {
    g = await startGateway(gw.configPath, gw.config.control.socket);
    await g.call('session.start', { matter: '现场检查', caseRef: 'AL-2026-1', officers: [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }] });
    // The first segment is sealed and its upload under way at 1 KiB/s.
    const first = await until('a sealed segment', () => sealedSegments()[0], 15_000, () => g!.log());
    expect(first.size, 'a segment must take the capped link minutes, or the upload is not held back').toBeGreaterThan(100_000);
    // Its manifest is at the receiver: the file's chunks follow it, and entries written from now on wait for them.
    await until('the manifest at the receiver (entries go first)', () => (storedLedger().includes('"type":"segment.sealed"') ? true : undefined), 10_000, () => g!.log() + r.log());

    const pausedAt = Date.now();
    await g.call('session.pause', { reason: 'site-change' });
    const started = await recorded('interruption-started', 0);
    expect(Date.now() - pausedAt).toBeLessThan(PROMPT_MS);
    // The upload has not brought the entry, nor any segment: the alert came on its own.
    expect(storedLedger()).not.toContain('"type":"interruption.started"');
    expect(storedSegments(store(), A)).toEqual([]);
    expect(started).toMatchObject({ device: A, kind: 'interruption-started', late: false, receiver: 'receiver:1' });
    expect(JSON.parse(started.line)).toMatchObject({ device: A, type: 'interruption.started', body: { reason: 'site-change', origin: 'declared' } });
    await logged(`"msg":"alert from ${A}: 中断开始 (interruption started): 转换执法场所 [site-change], 申报 (declared)"`);

    const paused = await stateWhen('interrupted', (s) => s.session?.state === 'interrupted');
    expect(paused.retain).toBe(true);
    expect(paused.state).toMatchObject({ v: 1, type: 'alert-state', device: A, session: { state: 'interrupted' }, open: [{ reason: 'site-change', origin: 'declared', seq: JSON.parse(started.line).seq }] });

    await g.call('session.resume');
    await recorded('interruption-ended', 1);
    const afterResume = await stateWhen('recording again', (s) => s.session?.state === 'recording');
    expect(afterResume.state).toMatchObject({ session: { state: 'recording' }, open: [] });
  }, 60_000);

  it('an early end (stopped while interrupted) is an alert, and the state says so', async () => {
    const n = records(A).length;
    await g!.call('session.pause', { reason: 'obstruction' });
    await recorded('interruption-started', n);
    await g!.call('session.stop');
    const early = await recorded('session-ended-early', n);
    expect(JSON.parse(early.line)).toMatchObject({ type: 'session.closed', body: { reason: 'terminated', by: 'officer', unresumed: ['obstruction'] } });
    expect(records(A).slice(n).map((x) => x.kind)).toEqual(['interruption-started', 'interruption-ended', 'session-ended-early']);
    await logged(`"msg":"alert from ${A}: 场次提前结束 (session ended early): 中断未恢复 (an interruption never resumed: 人为阻挠 [obstruction])"`);
    const closed = await stateWhen('closed', (s) => s.session?.state === 'closed');
    expect(closed.state).toMatchObject({ session: { state: 'closed', reason: 'terminated', endedEarly: true }, open: [] });
  }, 30_000);

  it('recgw report lists them per device and session with their delays, in Beijing time (JSON in UTC)', () => {
    const json = spawnSync(process.execPath, [BIN, 'report', store(), '--ca', ca.paths.caCert, '--json'], { encoding: 'utf8' });
    expect(json.status, json.stderr).toBe(0);
    const rep = JSON.parse(json.stdout) as StoreReport;
    const alerts = rep.devices.find((d) => d.deviceId === A)!.alerts;
    expect(alerts).toMatchObject({ present: true, lines: 5, repeated: 0, malformed: [], invalid: [] });
    expect(alerts.items.map((i) => [i.kind, i.reason])).toEqual([
      ['interruption-started', 'site-change'],
      ['interruption-ended', 'site-change'],
      ['interruption-started', 'obstruction'],
      ['interruption-ended', 'obstruction'],
      ['session-ended-early', null],
    ]);
    const sessionId = alerts.items[0]!.sessionId;
    expect(alerts.items.every((i) => i.sessionId === sessionId && i.delaySeconds >= 0 && i.delaySeconds < PROMPT_MS / 1000 && i.eventAt.endsWith('Z'))).toBe(true);

    const text = spawnSync(process.execPath, [BIN, 'report', store(), '--ca', ca.paths.caCert], { encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain('即时告警 (alerts received as they happened), 时间为北京时间 UTC+08:00 (times in Beijing time UTC+08:00)');
    const first = alerts.items[0]!;
    const row = text.stdout.split('\n').find((l) => l.includes('中断开始 (interruption started): 转换执法场所 [site-change]'))!;
    expect(row).toContain(`${A}  ${sessionId}`);
    expect(row).toContain(localClock(first.eventAt, 'Asia/Shanghai'));
    expect(row).toContain(localClock(first.receivedAt, 'Asia/Shanghai'));
    expect(row).toContain(`${first.delaySeconds.toFixed(1)} s`);
  });

  it('recgw report counts a repeated alert once, and names junk and (with --ca) forged records instead of listing them', () => {
    const copy = join(tmp('recgw-alert-store-'), 'store');
    cpSync(store(), copy, { recursive: true });
    const file = join(copy, A, 'alerts.jsonl');
    const [first] = records(A);
    const later = { ...first!, receivedAt: new Date(Date.parse(first!.receivedAt) + 60_000).toISOString(), receiver: 'receiver:2' };
    // The reason changed after signing: only the signature check can tell.
    const forged = { ...first!, seq: 99, line: first!.line.replace('"reason":"site-change"', '"reason":"bad-weather"') };
    const foreign = { ...first!, line: first!.line.replace(`"device":"${A}"`, `"device":"${B}"`) };
    appendFileSync(file, ['not json', JSON.stringify({ v: 1 }), JSON.stringify(later), JSON.stringify(forged), JSON.stringify(foreign)].join('\n') + '\n');
    const report = (...args: string[]): StoreReport['devices'][number]['alerts'] => {
      const out = spawnSync(process.execPath, [BIN, 'report', copy, '--json', ...args], { encoding: 'utf8' });
      expect(out.status, out.stderr).toBe(0);
      return (JSON.parse(out.stdout) as StoreReport).devices.find((d) => d.deviceId === A)!.alerts;
    };
    const checked = report('--ca', ca.paths.caCert);
    expect(checked).toMatchObject({ lines: 10, repeated: 1, malformed: [{ line: 6, problem: 'not valid JSON' }, { line: 7, problem: expect.stringContaining('not an alert record') }] });
    expect(checked.invalid.map((x) => x.line)).toEqual([9, 10]);
    expect(checked.invalid[0]!.problem).toContain('does not verify with the certificate that came with it');
    expect(checked.invalid[1]!.problem).toContain(`names device "${B}", not "${A}"`);
    // The repeat counts once, at its first arrival.
    expect(checked.items).toHaveLength(5);
    expect(checked.items[0]!.receivedAt).toBe(first!.receivedAt);
    // Without the CA nothing is checked, and the report says so: the forged record is listed.
    const unchecked = report();
    expect(unchecked.items).toHaveLength(6);
    expect(unchecked.invalid.map((x) => x.line)).toEqual([10]);
    const text = spawnSync(process.execPath, [BIN, 'report', copy, '--ca', ca.paths.caCert], { encoding: 'utf8' }).stdout;
    expect(text).toContain(`  ${A}: alerts.jsonl 格式错误 (malformed) line 6: not valid JSON`);
    expect(text).toContain(`  ${A}: alerts.jsonl 无效 (invalid) line 9: the signature of the alert's interruption.started entry`);
  });

  it('a receiver started again knows what it recorded: the same alert sent again is not recorded twice', async () => {
    expect(await g!.stop()).toBe(0);
    expect(await r.stop()).toBe(0);
    r = await startReceiver(rx);
    const before = records(A);
    // The device's own connection (the gateway has stopped) sends its last alert once more.
    const last = before.at(-1)!;
    const msg: AlertMessage = { v: 1, type: 'alert', device: A, kind: last.kind, line: last.line, cert: last.cert, sent: new Date().toISOString(), late: true };
    const dev = await mqtt.connectAsync(broker.url, { ...deviceMqttOptions(gw.config.stateDir, ca.paths.caCert), protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await dev.publishAsync(topics.alert(A), JSON.stringify(msg), { qos: 1 });
    } finally {
      await dev.endAsync();
    }
    await logged('"msg":"ignored an alert already recorded"');
    expect(records(A)).toEqual(before);
  }, 30_000);
});

/** A ledger line of `device` signed with `signer` (the genesis position: alerts need not continue a stored ledger). */
function line(device: string, signer: KeySigner, type: string, body: Record<string, unknown>, seq = 5): string {
  const unsigned = encodeUnsigned({ v: 1, device, seq, prev: GENESIS_PREV, time: new Date().toISOString(), type, body });
  return attachSignature(unsigned, signer.sign(Buffer.from(unsigned, 'utf8')).toString('base64'));
}

const signerOf = (p: Provisioned): KeySigner => {
  const id = identityPaths(p.config.stateDir);
  return new KeySigner(createPrivateKey(readFileSync(id.key, 'utf8')), readFileSync(id.cert, 'utf8'));
};

const started = { sessionId: 'S-B', interruptionId: 'I-1', reason: 'device-fault', origin: 'detected', start: new Date().toISOString() };

describe('alerts the receiver refuses', () => {
  let dev: MqttClient;
  beforeAll(async () => {
    if (r.proc.exitCode !== null) r = await startReceiver(rx);
    dev = await mqtt.connectAsync(broker.url, { ...deviceMqttOptions(other.config.stateDir, ca.paths.caCert), protocolVersion: 5, reconnectPeriod: 0 });
  });
  afterAll(async () => {
    await dev.endAsync();
  });

  const alert = (over: Partial<AlertMessage>): string => JSON.stringify({ v: 1, type: 'alert', device: B, kind: 'interruption-started', sent: new Date().toISOString(), late: false, ...over });

  /** Publish on B's own alert topic (the broker lets B) and wait for the receiver's refusal naming `problem`. */
  async function refused(payload: string | Buffer, problem: string): Promise<void> {
    const seen = r.log().length;
    await dev.publishAsync(topics.alert(B), payload, { qos: 1 });
    const lineOf = await until(
      `the refusal "${problem}"`,
      () => r.log().slice(seen).split('\n').find((l) => l.includes('"msg":"refused an alert"')),
      PROMPT_MS,
      () => r.log().slice(seen),
    );
    expect(JSON.parse(lineOf)).toMatchObject({ level: 'warn', device: B });
    expect((JSON.parse(lineOf) as { problem: string }).problem).toContain(problem);
  }

  it('refuses forgeries and junk with a reason each, records none, and still records a genuine alert after them', async () => {
    const b = signerOf(other);
    const a = signerOf(gw);
    const foreign = makeGateway(makeCa().dir, { deviceId: B });
    const genuineA = records(A)[0]!;

    await refused('not json{', 'the alert message is not JSON');
    await refused(Buffer.alloc(70_000, 0x20), 'more than the 65536 allowed');
    await refused(alert({ device: A, line: genuineA.line, cert: genuineA.cert }), `names device "${A}" on the topic of "${B}"`);
    // Another device's genuine, signed alert, put on B's topic as B's.
    await refused(alert({ line: genuineA.line, cert: genuineA.cert }), `the alert's ledger line names device "${A}", not "${B}" of its topic`);
    // B's entry signed with A's key (a stolen key of another device), carrying B's certificate.
    await refused(alert({ line: line(B, a, ENTRY.interruptionStarted, started), cert: b.certificatePem }), 'does not verify with the certificate that came with it');
    // B's entry signed with B's key, carrying A's certificate.
    await refused(alert({ line: line(B, b, ENTRY.interruptionStarted, started), cert: a.certificatePem }), `is not the agency CA's device certificate for ${B}`);
    // A key and certificate of B's name from another CA.
    const f = signerOf(foreign);
    await refused(alert({ line: line(B, f, ENTRY.interruptionStarted, started), cert: f.certificatePem }), `is not the agency CA's device certificate for ${B}`);
    // Genuinely signed, but no alert: a session's opening, and a normal stop.
    await refused(alert({ line: line(B, b, ENTRY.sessionOpened, { sessionId: 'S-B', matter: 'other', caseRef: '', officers: [] }), cert: b.certificatePem }), 'a session.opened entry (seq 5) is not an alert');
    await refused(alert({ kind: 'session-ended-early', line: line(B, b, ENTRY.sessionClosed, { sessionId: 'S-B', reason: 'stopped', by: 'officer' }), cert: b.certificatePem }), 'is not an alert');
    await refused(alert({ kind: 'session-ended-early', line: line(B, b, ENTRY.interruptionStarted, started), cert: b.certificatePem }), 'the alert says session-ended-early but its entry (seq 5) is interruption-started');
    await refused(alert({ line: 'x', cert: b.certificatePem }), "the alert's ledger line is not a well-formed entry");
    expect(records(B)).toEqual([]);
    expect(r.proc.exitCode).toBeNull();

    // Control: B's genuine alert, after all that, is recorded.
    const genuine = line(B, b, ENTRY.interruptionStarted, started);
    await dev.publishAsync(topics.alert(B), alert({ line: genuine, cert: b.certificatePem }), { qos: 1 });
    const rec = await until('B\'s genuine alert', () => records(B)[0], PROMPT_MS, () => r.log());
    expect(rec).toMatchObject({ device: B, seq: 5, kind: 'interruption-started', line: genuine });
  }, 60_000);
});
