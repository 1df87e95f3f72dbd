/**
 * The gateway's alert publisher (src/uplink/alerts.ts) against a real evidence core (state database, ledger signed
 * with the device key) and the recorder's session store writing the entries. The MQTT connection is a stand-in
 * given through the constructor (AlertLink), so that a test can hold it offline, refuse an acknowledgement and read
 * what was published; test/integration/alerts.test.ts runs the same publisher over a real mosquitto.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { SessionStore } from '../../src/recorder/session-store.js';
import { AlertPublisher, MAX_QUEUED, type AlertLink } from '../../src/uplink/alerts.js';
import { checkAlert, type AlertMessage, type AlertState } from '../../src/uplink/alert-wire.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import { sleep } from '../helpers/evidence.js';
import { readFileSync } from 'node:fs';

afterAll(cleanupTmp);

const DEVICE = 'room-alerts';
const ca = makeCa();
const caPems = [readFileSync(ca.paths.caCert, 'utf8')];

class TestLink implements AlertLink {
  connected = true;
  /** Acknowledge (true) or let the publish fail (false). */
  ack = true;
  readonly sent: { topic: string; payload: string; retain: boolean }[] = [];
  publishNow(topic: string, payload: string, retain: boolean): Promise<boolean> {
    if (!this.connected) return Promise.resolve(false);
    this.sent.push({ topic, payload, retain });
    return Promise.resolve(this.ack);
  }
  alerts(): AlertMessage[] {
    return this.sent.filter((s) => s.topic === `recgw/${DEVICE}/alert`).map((s) => JSON.parse(s.payload) as AlertMessage);
  }
  states(): AlertState[] {
    return this.sent.filter((s) => s.topic === `recgw/${DEVICE}/alert/state`).map((s) => JSON.parse(s.payload) as AlertState);
  }
}

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const ctx = { sessionId: 'S1', matter: 'site-inspection', caseRef: 'A-1', officers: [{ name: '张三', badge: '13010001' }] };
const typeOf = (a: AlertMessage): string => (JSON.parse(a.line) as { type: string }).type;

describe('the alert publisher', () => {
  let core: EvidenceCore;
  let store: SessionStore;
  let clock: number;
  let link: TestLink;
  let pub: AlertPublisher | undefined;
  const logs: string[] = [];
  const start = (): AlertPublisher => {
    const p = new AlertPublisher({ deviceId: DEVICE, db: core.db, ledger: core.ledger, link, now: () => clock, log: createLogger('t', { sink: (l) => logs.push(l) }) });
    p.start();
    pub = p;
    return p;
  };

  beforeEach(async () => {
    clock = Date.now();
    logs.length = 0;
    link = new TestLink();
    const gw = makeGateway(ca.dir, { deviceId: DEVICE });
    core = await startEvidenceCore(gw.config, silentLogger, () => new Date(clock));
    store = new SessionStore(core.db, core.ledger);
  });

  afterEach(async () => {
    await pub?.stop();
    pub = undefined;
    await core.stop();
  });

  it('sends an interruption\'s start and end and an early end, each a signed entry that checks; a normal stop only changes the state', async () => {
    start();
    store.open(ctx, clock, {});
    const id = store.startInterruption('S1', { reason: 'site-change', origin: 'declared', start: clock + 1000 });
    await until('the start', () => link.alerts().length === 1);
    expect(link.states().at(-1)).toMatchObject({ session: { sessionId: 'S1', state: 'interrupted' }, open: [{ interruptionId: id, reason: 'site-change', origin: 'declared' }] });
    store.endInterruption('S1', id, clock + 5000);
    store.close('S1', clock + 9000, { by: 'officer' });
    await until('the closed state', () => link.states().at(-1)?.session?.state === 'closed');
    expect(link.alerts().map(typeOf)).toEqual(['interruption.started', 'interruption.ended']);
    expect(link.states().at(-1)).toMatchObject({ session: { state: 'closed', reason: 'stopped', endedEarly: false }, open: [] });
    expect(link.sent.every((s) => s.retain === s.topic.endsWith('/state'))).toBe(true);
    // Each alert is the ledger's own line, signed with the device key, and checks against the agency CA.
    const lines = (core.db.prepare(`SELECT line FROM ledger WHERE type LIKE 'interruption.%' ORDER BY seq`).all() as { line: string }[]).map((r) => r.line);
    expect(link.alerts().map((a) => a.line)).toEqual(lines);
    for (const a of link.alerts()) expect(checkAlert(a, DEVICE, caPems)).toMatchObject({ ok: true });

    // A second session ends early: an interruption never resumed.
    store.open({ ...ctx, sessionId: 'S2' }, clock + 20_000, {});
    store.startInterruption('S2', { reason: 'obstruction', origin: 'declared', start: clock + 21_000 });
    store.close('S2', clock + 25_000, { by: 'officer' });
    await until('the early end', () => link.alerts().length === 5);
    // The open interruption ends with the session, which ends early.
    expect(link.alerts().slice(2).map((a) => a.kind)).toEqual(['interruption-started', 'interruption-ended', 'session-ended-early']);
    expect(link.states().at(-1)).toMatchObject({ session: { sessionId: 'S2', state: 'closed', reason: 'terminated', endedEarly: true }, open: [] });
    expect(link.alerts().every((a) => !a.late)).toBe(true);
  });

  it('holds alerts written offline and sends them at the next connect, oldest first, marked late by their own time', async () => {
    link.connected = false;
    const p = start();
    store.open(ctx, clock, {});
    store.startInterruption('S1', { reason: 'device-fault', origin: 'detected', start: clock });
    clock += 45_000;
    store.startInterruption('S1', { reason: 'camera-covered', origin: 'detected', start: clock });
    await sleep(50);
    expect(link.sent).toEqual([]);
    clock += 10_000;
    link.connected = true;
    p.connected();
    await until('both alerts', () => link.alerts().length === 2);
    // 55 s and 10 s after their entries were written: late beyond 30 s.
    expect(link.alerts().map((a) => [JSON.parse(a.line).body.reason, a.late])).toEqual([
      ['device-fault', true],
      ['camera-covered', false],
    ]);
    await until('the state', () => link.states().length === 1);
    expect(link.states()[0]!.open.map((o) => o.reason)).toEqual(['device-fault', 'camera-covered']);
  });

  it('after a long time offline sends the newest alerts only, and says how many it left to the upload', async () => {
    link.connected = false;
    const p = start();
    store.open(ctx, clock, {});
    for (let i = 0; i < 55; i++) {
      const id = store.startInterruption('S1', { reason: 'device-fault', origin: 'detected', start: clock + i });
      store.endInterruption('S1', id, clock + i + 1);
    }
    link.connected = true;
    p.connected();
    await until('the newest alerts', () => link.alerts().length === MAX_QUEUED);
    await until('the state', () => link.states().length === 1);
    const seqs = link.alerts().map((a) => (JSON.parse(a.line) as { seq: number }).seq);
    const head = core.ledger.head()!.seq;
    expect(seqs).toEqual(Array.from({ length: MAX_QUEUED }, (_, i) => head - MAX_QUEUED + 1 + i));
    expect(logs.find((l) => l.includes('too many alerts waited'))).toContain('"skipped":10');
  });

  it('moves on only at the broker\'s acknowledgement: an alert not acknowledged is sent again by the next run', async () => {
    link.ack = false;
    const p = start();
    store.open(ctx, clock, {});
    store.startInterruption('S1', { reason: 'power-loss', origin: 'detected', start: clock });
    await until('the first try', () => link.alerts().length === 1);
    await p.stop();
    // A new run (the service restarted) on the same state database.
    const tries = link.alerts().length;
    link.ack = true;
    start();
    await until('the next try', () => link.alerts().length === tries + 1);
    expect(new Set(link.alerts().map((a) => a.line)).size).toBe(1);
    await until('the state', () => link.states().length === 1);
    // Acknowledged now: a third run sends nothing again (control: it does send the state, as after any connect).
    await pub!.stop();
    const before = link.alerts().length;
    start();
    await until('the third run\'s state', () => link.states().length === 2);
    expect(link.alerts()).toHaveLength(before);
  });

  it('never sends an entry of a transaction that rolled back, and nothing the ledger held before its first start', async () => {
    store.open(ctx, clock, {});
    store.startInterruption('S1', { reason: 'bad-weather', origin: 'declared', start: clock });
    start();
    // The start's own flush (the state) is over: the rollback below is the only thing to send.
    await until('the first state', () => link.states().length === 1);
    await sleep(20);
    expect(() =>
      core.db.transaction(() => {
        store.startInterruption('S1', { reason: 'obstruction', origin: 'declared', start: clock });
        throw new Error('rolled back');
      })(),
    ).toThrow('rolled back');
    // Control: a genuine one after it is sent, alone.
    store.startInterruption('S1', { reason: 'low-battery', origin: 'detected', start: clock });
    await until('the genuine alert', () => link.alerts().length === 1);
    await sleep(20);
    expect(link.alerts().map((a) => JSON.parse(a.line).body.reason)).toEqual(['low-battery']);
  });
});
