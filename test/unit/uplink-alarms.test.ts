/**
 * Upload deadline alarms (docs/uplink-protocol.md §6) and the receipt inbox, on a real state database and ledger
 * with a test clock: each item raises each level once, items crossing a level in one check share one alarm.raised
 * entry, a late start raises only "missed", and a receipt that is forged, for another device or for other bytes is
 * refused without recording anything.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeQueueWorlds, queueWorld, type QueueWorld } from '../helpers/queue-world.js';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { type EvidenceCore } from '../../src/app/evidence-core.js';
import { ENTRY } from '../../src/evidence/types.js';
import { KeySigner, type Signer } from '../../src/evidence/signer.js';
import { caPaths } from '../../src/pki/ca.js';
import { silentLogger, createLogger } from '../../src/util/log.js';
import { DeadlineAlarms, alarmLevels } from '../../src/uplink/alarms.js';
import { LogWatch } from '../../src/uplink/log-watch.js';
import { Inbox } from '../../src/uplink/inbox.js';
import { topics } from '../../src/uplink/wire.js';

const HOUR = 3600_000;
const MIN = 60_000;
const DEADLINE_HOURS = 24;
const iso = (t: number): string => new Date(t).toISOString();

let ca: ReturnType<typeof makeCa>;
let caPem: string;
let receiptSigner: Signer;
/** The genuine receipt certificate with a key that is not its own: what a forger without the agency key could make. */
let forger: Signer;

beforeAll(() => {
  ca = makeCa();
  const p = caPaths(ca.dir);
  caPem = readFileSync(p.caCert, 'utf8');
  receiptSigner = new KeySigner(createPrivateKey(readFileSync(p.receiptKey, 'utf8')), readFileSync(p.receiptCert, 'utf8'));
  forger = new KeySigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, receiptSigner.certificatePem);
});
afterAll(cleanupTmp);

afterEach(closeQueueWorlds);

interface World extends QueueWorld {
  alarms: DeadlineAlarms;
  /** Seal segments and enqueue them (the alarm tests always want them queued). */
  seal(segs: { source: string; seq: number; endMs: number }[]): Promise<string[]>;
  /** Confirm every entry written so far, so that only files (and later backlogs) carry deadlines. */
  receiptEntries(): void;
}

async function world(): Promise<World> {
  const base = await queueWorld({ caDir: ca.dir, receiptSigner, caseRef: 'UA-2026-001', sources: ['cam1', 'cam2', 'cam3'], deadlineHours: DEADLINE_HOURS });
  return {
    ...base,
    alarms: new DeadlineAlarms(base.core.db, base.core.ledger, base.queue, [6, 1]),
    async seal(segs) {
      const names = await base.seal(segs);
      base.queue.sync();
      return names;
    },
    receiptEntries() {
      expect(base.queue.acceptEntriesReceipt(base.entriesReceipt(base.core.ledger.head()!.seq))).toBe(true);
    },
  };
}

/** Alarms are checked at the clock's time, and the ledger stamps the alarm entries with it too. */
function checkAt(w: World, ms: number): ReturnType<DeadlineAlarms['check']> {
  w.clock.ms = ms;
  return w.alarms.check(ms);
}

const alarmBodies = (w: World): Record<string, unknown>[] =>
  (w.core.db.prepare('SELECT line FROM ledger WHERE type = ? ORDER BY seq').all(ENTRY.alarmRaised) as { line: string }[]).map(
    (r) => (JSON.parse(r.line) as { body: Record<string, unknown> }).body,
  );

const receiptCount = (w: World): number =>
  (w.core.db.prepare('SELECT COUNT(*) AS n FROM ledger WHERE type = ?').get(ENTRY.receiptReceived) as { n: number }).n;

describe('DeadlineAlarms', () => {
  it('levels are the configured hours, earliest first, then "missed"', () => {
    expect(alarmLevels([1, 6]).map((l) => l.level)).toEqual(['6h', '1h', 'missed']);
  });

  it('raises each level once per item, one entry for the items crossing together, and nothing for receipted items', async () => {
    const w = await world();
    const E = w.clock.ms - MIN;
    const D = E + DEADLINE_HOURS * HOUR;
    // a and b end together (they cross every level together); kept is receipted before any alarm; c ends 3 h later.
    const [a, b, kept] = await w.seal([
      { source: 'cam1', seq: 0, endMs: E },
      { source: 'cam2', seq: 0, endMs: E },
      { source: 'cam3', seq: 0, endMs: E },
    ]);
    w.clock.ms += 3 * HOUR;
    const [c] = await w.seal([{ source: 'cam1', seq: 1, endMs: E + 3 * HOUR }]);
    expect(w.queue.acceptSegmentReceipt(w.segmentReceipt(kept!), w.clock.ms)).toBe(true);
    // The entries backlog from here on starts with the first alarm entry (deadline D + 18 h): out of this test's range.
    w.receiptEntries();

    expect(checkAt(w, D - 6 * HOUR - 1)).toEqual([]);
    expect(alarmBodies(w)).toEqual([]);
    expect(w.alarms.standing()).toEqual([]);

    expect(checkAt(w, D - 6 * HOUR)).toEqual([
      { item: a, deadline: iso(D), level: '6h' },
      { item: b, deadline: iso(D), level: '6h' },
    ]);
    expect(alarmBodies(w)).toEqual([{ kind: 'upload-deadline', level: '6h', deadline: iso(D), count: 2, items: [a, b] }]);

    // The next checks (every minute) do not repeat it.
    expect(checkAt(w, D - 6 * HOUR + MIN)).toEqual([]);
    expect(checkAt(w, D - 4 * HOUR)).toEqual([]);
    expect(alarmBodies(w)).toHaveLength(1);

    // c reaches its own 6 h mark alone.
    expect(checkAt(w, D - 3 * HOUR)).toEqual([{ item: c, deadline: iso(D + 3 * HOUR), level: '6h' }]);

    expect(checkAt(w, D - HOUR)).toEqual([
      { item: a, deadline: iso(D), level: '1h' },
      { item: b, deadline: iso(D), level: '1h' },
    ]);
    expect(alarmBodies(w).slice(2)).toEqual([{ kind: 'upload-deadline', level: '1h', deadline: iso(D), count: 2, items: [a, b] }]);
    expect(checkAt(w, D - HOUR + MIN)).toEqual([]);

    // standing(): the most urgent level raised per item still lacking its receipt.
    const byItem = (xs: { item: string; level: string; deadline: string }[]): Record<string, string> => Object.fromEntries(xs.map((x) => [x.item, `${x.level}@${x.deadline}`]));
    expect(byItem(w.alarms.standing())).toEqual({ [a!]: `1h@${iso(D)}`, [b!]: `1h@${iso(D)}`, [c!]: `6h@${iso(D + 3 * HOUR)}` });

    expect(checkAt(w, D + MIN)).toEqual([
      { item: a, deadline: iso(D), level: 'missed' },
      { item: b, deadline: iso(D), level: 'missed' },
    ]);
    expect(alarmBodies(w).slice(3)).toEqual([{ kind: 'upload-deadline', level: 'missed', deadline: iso(D), count: 2, items: [a, b] }]);
    expect(checkAt(w, D + 2 * MIN)).toEqual([]);

    // c's receipt comes in time: it raises nothing more and no longer stands.
    w.clock.ms = D + HOUR;
    expect(w.queue.acceptSegmentReceipt(w.segmentReceipt(c!), w.clock.ms)).toBe(true);
    expect(checkAt(w, D + 2 * HOUR + MIN)).toEqual([]);
    expect(checkAt(w, D + 3 * HOUR + MIN)).toEqual([]);
    expect(byItem(w.alarms.standing())).toEqual({ [a!]: `missed@${iso(D)}`, [b!]: `missed@${iso(D)}` });

    // Four entries in all: 6h (a, b), 6h (c), 1h (a, b), missed (a, b). kept never appeared.
    expect(alarmBodies(w).map((x) => x.level)).toEqual(['6h', '6h', '1h', 'missed']);
    expect(alarmBodies(w).flatMap((x) => x.items as string[])).not.toContain(kept);
  });

  it('a gateway first checking after the deadline raises only "missed", and a restart raises nothing again', async () => {
    const w = await world();
    const E = w.clock.ms - MIN;
    const D = E + DEADLINE_HOURS * HOUR;
    const [a] = await w.seal([{ source: 'cam1', seq: 0, endMs: E }]);
    w.receiptEntries();

    expect(checkAt(w, D + 2 * HOUR)).toEqual([{ item: a, deadline: iso(D), level: 'missed' }]);
    expect(alarmBodies(w)).toEqual([{ kind: 'upload-deadline', level: 'missed', deadline: iso(D), count: 1, items: [a] }]);
    // The levels passed with it are marked, so neither this instance nor one after a restart raises 6h or 1h late.
    const marked = w.core.db.prepare('SELECT level FROM uplink_alarms WHERE item = ? ORDER BY level').all(a) as { level: string }[];
    expect(marked.map((r) => r.level).sort()).toEqual(['1h', '6h', 'missed']);
    expect(checkAt(w, D + 3 * HOUR)).toEqual([]);
    const restarted = new DeadlineAlarms(w.core.db, w.core.ledger, w.queue, [6, 1]);
    expect(restarted.check(D + 3 * HOUR)).toEqual([]);
    expect(alarmBodies(w)).toHaveLength(1);
    expect(restarted.standing()).toEqual([{ item: a, deadline: iso(D), level: 'missed' }]);
  });

  it('the entries backlog is an item of its own, with the deadline of its oldest entry', async () => {
    const w = await world();
    const D = Date.parse(w.core.ledger.entry(0)!.time) + DEADLINE_HOURS * HOUR;
    expect(checkAt(w, D - 6 * HOUR - 1)).toEqual([]);
    expect(checkAt(w, D - 6 * HOUR)).toEqual([{ item: 'entries', deadline: iso(D), level: '6h' }]);
    expect(alarmBodies(w)).toEqual([{ kind: 'upload-deadline', level: '6h', deadline: iso(D), count: 1, items: ['entries'] }]);
    expect(w.alarms.standing()).toEqual([{ item: 'entries', deadline: iso(D), level: '6h' }]);
  });

  // Regression: the "entries" item once kept the levels of the first backlog forever.
  it('a later entries backlog raises its own alarms after the earlier one was receipted', async () => {
    const w = await world();
    const D1 = Date.parse(w.core.ledger.entry(0)!.time) + DEADLINE_HOURS * HOUR;
    expect(checkAt(w, D1 + MIN)).toEqual([{ item: 'entries', deadline: iso(D1), level: 'missed' }]);
    w.receiptEntries();
    // A new backlog: the next entry, written two days later.
    w.clock.ms = D1 + 2 * DEADLINE_HOURS * HOUR;
    const e = w.core.ledger.append(ENTRY.serviceStarted, { version: 'test', previousStop: 'clean' });
    const D2 = Date.parse(e.time) + DEADLINE_HOURS * HOUR;
    expect(checkAt(w, D2 + MIN)).toEqual([{ item: 'entries', deadline: iso(D2), level: 'missed' }]);
  });

  it('standing() does not report a receipted backlog\'s "missed" for a new backlog still in time', async () => {
    const w = await world();
    const D1 = Date.parse(w.core.ledger.entry(0)!.time) + DEADLINE_HOURS * HOUR;
    checkAt(w, D1 + MIN);
    w.receiptEntries();
    w.clock.ms = D1 + 2 * HOUR;
    w.core.ledger.append(ENTRY.serviceStarted, { version: 'test', previousStop: 'clean' });
    // The new backlog's deadline is 24 h ahead; the status message should show no alarm for it.
    expect(w.alarms.standing()).toEqual([]);
  });
});

describe('Inbox refuses receipts that are not genuine or do not match, recording nothing', () => {
  async function inboxWorld() {
    const w = await world();
    const [a] = await w.seal([{ source: 'cam1', seq: 0, endMs: w.clock.ms - MIN }]);
    const logs: { level: string; msg: string; problem?: string }[] = [];
    let progress = 0;
    const inbox = new Inbox({
      deviceId: w.deviceId,
      caPems: [caPem],
      queue: w.queue,
      now: () => w.clock.ms,
      log: createLogger('test', { level: 'debug', sink: (l) => logs.push(JSON.parse(l) as (typeof logs)[number]) }),
      onProgress: () => progress++,
      logWatch: new LogWatch(w.core.db, w.core.ledger, [caPem], () => w.clock.ms, silentLogger),
    });
    const nothingRecorded = (head: ReturnType<EvidenceCore['ledger']['head']>): void => {
      expect(w.core.ledger.head()).toEqual(head);
      expect(receiptCount(w)).toBe(0);
      expect(w.queue.file(a!)!.receiptSeq).toBeNull();
      expect(progress).toBe(0);
    };
    return { w, a: a!, inbox, logs, progress: () => progress, nothingRecorded };
  }

  it('refuses a receipt signed by another key than its certificate\'s', async () => {
    const { w, a, inbox, logs, nothingRecorded } = await inboxWorld();
    const head = w.core.ledger.head();
    const forged = w.segmentReceipt(a, {}, forger);
    expect(inbox.receipt(forged)).toBe(false);
    // Also as it arrives on the wire, and repeated inside a state answer.
    inbox.handle(topics.receipt(w.deviceId), Buffer.from(JSON.stringify(forged)));
    const state = { v: 1, type: 'state', device: w.deviceId, re: 'h1', ledger: null, files: {}, receipts: [forged] };
    inbox.handle(topics.state(w.deviceId), Buffer.from(JSON.stringify(state)));
    nothingRecorded(head);
    expect(logs.filter((l) => l.msg === 'refused a receipt')).toHaveLength(3);
    expect(logs[0]!.problem).toMatch(/signature does not verify/);
  });

  it('refuses a genuine receipt for another device', async () => {
    const { w, a, inbox, logs, nothingRecorded } = await inboxWorld();
    const head = w.core.ledger.head();
    expect(inbox.receipt(w.segmentReceipt(a, { device: 'room-elsewhere' }))).toBe(false);
    nothingRecorded(head);
    expect(logs.map((l) => l.msg)).toEqual(['refused a receipt for another device']);
  });

  it('refuses a genuine receipt whose sha256 differs from the sealed file\'s', async () => {
    const { w, a, inbox, logs, nothingRecorded } = await inboxWorld();
    const head = w.core.ledger.head();
    const own = w.queue.file(a)!.sha256;
    const other = (own[0] === '0' ? '1' : '0') + own.slice(1);
    expect(inbox.receipt(w.segmentReceipt(a, { sha256: other }))).toBe(false);
    nothingRecorded(head);
    expect(logs).toEqual([expect.objectContaining({ level: 'error', msg: 'refused a segment receipt that does not match what this gateway sealed' })]);
    expect(logs[0]!.problem).toContain(other);
  });

  it('records a matching receipt once and tells the uploader once', async () => {
    const { w, a, inbox, progress } = await inboxWorld();
    const r = w.segmentReceipt(a);
    expect(inbox.receipt(r)).toBe(true);
    expect(inbox.receipt(r)).toBe(false);
    expect(receiptCount(w)).toBe(1);
    expect(w.queue.file(a)!.receiptSeq).toBe(w.core.ledger.head()!.seq);
    expect(progress()).toBe(1);
  });
});
