/**
 * UploadQueue (docs/uplink-protocol.md §6) on a real state database and ledger: earliest-deadline-first order,
 * idempotent sync, the entries deadline, the summary behind the status message, and how segment and entries
 * receipts are matched against what this gateway sealed. Segments are sealed by the real Sealer with end times we
 * choose, and the ledger runs on a clock the test sets, so every deadline is exact.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeQueueWorlds, queueWorld, type QueueWorld } from '../helpers/queue-world.js';
import { createHash, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { ENTRY } from '../../src/evidence/types.js';
import { KeySigner, type Signer } from '../../src/evidence/signer.js';
import { type EntriesReceipt, type SegmentReceipt } from '../../src/evidence/receipt.js';
import { caPaths } from '../../src/pki/ca.js';
import { UploadQueue } from '../../src/uplink/queue.js';
import { MAX_ENTRIES_BYTES, decodeEntries } from '../../src/uplink/wire.js';

const HOUR = 3600_000;
const DEADLINE_HOURS = 24;
const iso = (t: number): string => new Date(t).toISOString();

let ca: ReturnType<typeof makeCa>;
let receiptSigner: Signer;

beforeAll(() => {
  ca = makeCa();
  const p = caPaths(ca.dir);
  receiptSigner = new KeySigner(createPrivateKey(readFileSync(p.receiptKey, 'utf8')), readFileSync(p.receiptCert, 'utf8'));
});
afterAll(cleanupTmp);

type World = QueueWorld;
afterEach(closeQueueWorlds);

const world = (): Promise<World> => queueWorld({ caDir: ca.dir, receiptSigner, caseRef: 'UQ-2026-001', sources: ['cam0', 'cam1', 'cam2', 'cam9'], deadlineHours: DEADLINE_HOURS });
const segmentReceipt = (w: World, name: string, over: Partial<SegmentReceipt> = {}): SegmentReceipt => w.segmentReceipt(name, over);
const entriesReceipt = (w: World, seq: number, hash?: string): EntriesReceipt => w.entriesReceipt(seq, hash);

const bodyOf = (w: World, seq: number): Record<string, unknown> => (JSON.parse(w.core.ledger.entry(seq)!.line) as { body: Record<string, unknown> }).body;

describe('UploadQueue order and sync', () => {
  it('orders files earliest deadline first (segment end + deadlineHours), ties by name, whatever the sealing order', async () => {
    const w = await world();
    const T = w.clock.ms;
    // Sealed in an order that is neither deadline nor name order: cam2 before cam1 at the same end time, and the
    // smallest name (cam0) ending last, the largest (cam9) first.
    const [c2, c1a, c1b, c0, c9] = await w.seal([
      { source: 'cam2', seq: 0, endMs: T - 10 * 60_000 },
      { source: 'cam1', seq: 0, endMs: T - 10 * 60_000 },
      { source: 'cam1', seq: 1, endMs: T - 5 * 60_000 },
      { source: 'cam0', seq: 0, endMs: T - 60_000 },
      { source: 'cam9', seq: 0, endMs: T - 20 * 60_000 },
    ]);
    expect(w.queue.sync()).toBe(5);
    const files = w.queue.nextFiles(100);
    expect(files.map((f) => f.name)).toEqual([c9, c1a, c2, c1b, c0]);
    expect(files.map((f) => f.deadlineMs)).toEqual([20, 10, 10, 5, 1].map((m) => T - m * 60_000 + DEADLINE_HOURS * HOUR));
    // limit cuts from the front: the hello names the most urgent files.
    expect(w.queue.nextFiles(2).map((f) => f.name)).toEqual([c9, c1a]);

    // Each row describes the sealed file as its manifest does.
    for (const f of files) {
      const data = readFileSync(f.file);
      expect(f.size).toBe(statSync(f.file).size);
      expect(f.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      const m = w.core.ledger.entry(f.manifestSeq)!;
      expect(m.type).toBe(ENTRY.segmentSealed);
      expect(bodyOf(w, f.manifestSeq)).toMatchObject({ segment: f.name, stored: { size: f.size, sha256: f.sha256 } });
    }
  });

  it('sync() is idempotent, keeps the deadlines it set, and picks up segments sealed later', async () => {
    const w = await world();
    const T = w.clock.ms;
    const [a, b] = await w.seal([
      { source: 'cam1', seq: 0, endMs: T - 4 * 60_000 },
      { source: 'cam1', seq: 1, endMs: T - 2 * 60_000 },
    ]);
    expect(w.queue.sync()).toBe(2);
    const before = w.queue.nextFiles(100);
    expect(w.queue.sync()).toBe(0);
    // Another queue with another deadlineHours (a config change and a restart) does not move queued deadlines.
    expect(new UploadQueue(w.core.db, w.core.ledger, 1).sync()).toBe(0);
    expect(w.queue.nextFiles(100)).toEqual(before);

    // Sealed after the first sync: one later, one whose footage ended earlier (e.g. sealed late after a crash).
    w.clock.ms += 60_000;
    const [c, d] = await w.seal([
      { source: 'cam1', seq: 2, endMs: T + 30_000 },
      { source: 'cam2', seq: 0, endMs: T - 6 * 60_000 },
    ]);
    expect(w.queue.nextFiles(100).map((f) => f.name)).toEqual([a, b]);
    expect(w.queue.sync()).toBe(2);
    expect(w.queue.sync()).toBe(0);
    expect(w.queue.nextFiles(100).map((f) => f.name)).toEqual([d, a, b, c]);
  });

  it('a deadline changed while running (the console) applies to what is queued after it, and to the entries', async () => {
    const w = await world();
    const T = w.clock.ms;
    const [a] = await w.seal([{ source: 'cam1', seq: 0, endMs: T - 60_000 }]);
    w.queue.sync();
    const firstEntry = Date.parse(w.core.ledger.entry(1)!.time);
    expect(w.queue.entriesDeadlineMs()).toBe(firstEntry + DEADLINE_HOURS * HOUR);
    w.queue.setDeadlineHours(2);
    const [b] = await w.seal([{ source: 'cam1', seq: 1, endMs: T }]);
    w.queue.sync();
    expect(w.queue.nextFiles(100).map((f) => [f.name, f.deadlineMs])).toEqual([
      [b, T + 2 * HOUR],
      [a, T - 60_000 + DEADLINE_HOURS * HOUR],
    ]);
    expect(w.queue.entriesDeadlineMs()).toBe(firstEntry + 2 * HOUR);
    // Whether a manifest is still to come from a seq on (the uploader holds other entries back to the end of a round).
    const head = w.core.ledger.head()!.seq;
    const lastManifest = (w.core.db.prepare("SELECT MAX(seq) AS s FROM ledger WHERE type = 'segment.sealed'").get() as { s: number }).s;
    expect(w.queue.manifestFrom(0)).toBe(true);
    expect(w.queue.manifestFrom(lastManifest)).toBe(true);
    expect(w.queue.manifestFrom(lastManifest + 1)).toBe(false);
    expect(w.queue.manifestFrom(head + 1)).toBe(false);
  });
});

describe('UploadQueue entries deadline and summary', () => {
  it('entriesDeadlineMs follows the first entry without a receipt, and is null when all are receipted', async () => {
    const w = await world();
    const t0 = Date.parse(w.core.ledger.entry(0)!.time);
    expect(w.queue.entriesThrough()).toBe(-1);
    expect(w.queue.entriesDeadlineMs()).toBe(t0 + DEADLINE_HOURS * HOUR);

    w.clock.ms += 3 * HOUR;
    const marker = w.core.ledger.append(ENTRY.serviceStarted, { version: 'test', previousStop: 'clean' });
    const head = w.core.ledger.head()!;
    expect(marker.seq).toBe(head.seq);

    // Confirmed up to the entry before the marker: the marker's time now sets the deadline.
    expect(w.queue.acceptEntriesReceipt(entriesReceipt(w, head.seq - 1))).toBe(true);
    expect(w.queue.entriesThrough()).toBe(head.seq - 1);
    expect(w.queue.entriesDeadlineMs()).toBe(Date.parse(marker.time) + DEADLINE_HOURS * HOUR);

    // An older receipt (one delayed on the way) does not move the confirmed point back.
    expect(w.queue.acceptEntriesReceipt(entriesReceipt(w, 0))).toBe(false);
    expect(w.queue.entriesThrough()).toBe(head.seq - 1);

    expect(w.queue.acceptEntriesReceipt(entriesReceipt(w, head.seq))).toBe(true);
    expect(w.queue.entriesDeadlineMs()).toBeNull();
    // Recorded without an fsync of its own, and the ledger's commits are still fsynced (synchronous FULL = 2).
    expect(w.core.db.pragma('synchronous', { simple: true })).toBe(2);

    // A new entry starts a new backlog, with its own deadline.
    w.clock.ms += HOUR;
    const next = w.core.ledger.append(ENTRY.serviceStarted, { version: 'test', previousStop: 'clean' });
    expect(w.queue.entriesDeadlineMs()).toBe(Date.parse(next.time) + DEADLINE_HOURS * HOUR);
  });

  it('summary() counts un-receipted entries, files and bytes, and the next deadline of either', async () => {
    const w = await world();
    const T = w.clock.ms;
    const [a, b, c] = await w.seal([
      { source: 'cam1', seq: 0, endMs: T - 3 * HOUR, bytes: 1000 },
      { source: 'cam1', seq: 1, endMs: T - 2 * HOUR, bytes: 3000 },
      { source: 'cam1', seq: 2, endMs: T - HOUR, bytes: 5000 },
    ]);
    w.queue.sync();
    const size = (n: string): number => w.queue.file(n)!.size;
    const head = w.core.ledger.head()!;
    // Entries are older than nothing here: the ledger opened at T, the footage ended before it.
    expect(w.queue.summary()).toEqual({ entries: head.seq + 1, files: 3, bytes: size(a) + size(b) + size(c), nextDeadlineMs: T - 3 * HOUR + DEADLINE_HOURS * HOUR });

    w.queue.acceptEntriesReceipt(entriesReceipt(w, head.seq));
    expect(w.queue.summary()).toMatchObject({ entries: 0, files: 3 });

    expect(w.queue.acceptSegmentReceipt(segmentReceipt(w, a), T)).toBe(true);
    // The receipt.received entry is itself an entry to upload; a's deadline no longer counts.
    expect(w.queue.summary()).toEqual({ entries: 1, files: 2, bytes: size(b) + size(c), nextDeadlineMs: T - 2 * HOUR + DEADLINE_HOURS * HOUR });

    w.queue.acceptSegmentReceipt(segmentReceipt(w, b), T);
    w.queue.acceptSegmentReceipt(segmentReceipt(w, c), T);
    w.queue.acceptEntriesReceipt(entriesReceipt(w, w.core.ledger.head()!.seq));
    expect(w.queue.summary()).toEqual({ entries: 0, files: 0, bytes: 0, nextDeadlineMs: null });
  });
});

describe('UploadQueue receipts', () => {
  it('acceptSegmentReceipt records one receipt.received entry per file; a second receipt is not recorded', async () => {
    const w = await world();
    const [a, b] = await w.seal([
      { source: 'cam1', seq: 0, endMs: w.clock.ms - 4000 },
      { source: 'cam1', seq: 1, endMs: w.clock.ms - 2000 },
    ]);
    w.queue.sync();
    const r = segmentReceipt(w, a);
    expect(w.queue.segmentReceiptMismatch(r)).toBeUndefined();
    w.clock.ms += 1000;
    const receivedAt = w.clock.ms + 5;
    expect(w.queue.acceptSegmentReceipt(r, receivedAt)).toBe(true);

    const head = w.core.ledger.head()!;
    const e = w.core.ledger.entry(head.seq)!;
    expect(e.type).toBe(ENTRY.receiptReceived);
    expect(bodyOf(w, head.seq)).toEqual({ receipt: r });
    expect(w.queue.file(a)!.receiptSeq).toBe(head.seq);
    const row = w.core.db.prepare('SELECT receipt_seq, receipted_at_ms FROM uplink_files WHERE name = ?').get(a) as { receipt_seq: number; receipted_at_ms: number };
    expect(row).toEqual({ receipt_seq: head.seq, receipted_at_ms: receivedAt });
    expect(w.queue.nextFiles(100).map((f) => f.name)).toEqual([b]);

    // The receiver repeats receipts in every state answer: the repeat changes nothing.
    expect(w.queue.acceptSegmentReceipt(segmentReceipt(w, a), receivedAt + 60_000)).toBe(false);
    expect(w.core.ledger.head()).toEqual(head);
    expect(w.core.db.prepare(`SELECT COUNT(*) AS n FROM ledger WHERE type = ?`).get(ENTRY.receiptReceived)).toEqual({ n: 1 });
    expect(w.queue.file(a)!.receiptSeq).toBe(head.seq);
  });

  it('segmentReceiptMismatch refuses a wrong size, sha256 or manifestSeq, and a name this gateway did not queue', async () => {
    const w = await world();
    const [a] = await w.seal([{ source: 'cam1', seq: 0, endMs: w.clock.ms - 2000 }]);
    w.queue.sync();
    const [unsynced] = await w.seal([{ source: 'cam1', seq: 1, endMs: w.clock.ms }]);
    const f = w.queue.file(a)!;
    expect(w.queue.segmentReceiptMismatch(segmentReceipt(w, a))).toBeUndefined();
    // Each is genuinely signed: the point is that it states something other than what we sealed.
    expect(w.queue.segmentReceiptMismatch(segmentReceipt(w, a, { size: f.size + 1 }))).toMatch(new RegExp(`size ${f.size + 1}.*but ours are ${f.size}`));
    const otherSha = createHash('sha256').update('not the sealed file').digest('hex');
    expect(w.queue.segmentReceiptMismatch(segmentReceipt(w, a, { sha256: otherSha }))).toMatch(new RegExp(`sha256 ${otherSha}.*but ours are .*${f.sha256}`));
    expect(w.queue.segmentReceiptMismatch(segmentReceipt(w, a, { manifestSeq: f.manifestSeq + 1 }))).toMatch(new RegExp(`manifest ${f.manifestSeq + 1}.*${f.manifestSeq}$`));
    expect(w.queue.segmentReceiptMismatch(segmentReceipt(w, a, { name: `${w.session.sessionId}_cam7_000000` }))).toMatch(/which this gateway did not queue/);
    // Sealed but not yet synced into the queue: not queued either (the hello never offered it).
    expect(w.queue.segmentReceiptMismatch(segmentReceipt(w, a, { name: unsynced! }))).toMatch(/did not queue/);
    expect(w.queue.file(a)!.receiptSeq).toBeNull();
  });

  it('entriesReceiptMismatch refuses a wrong hash and a seq beyond the head', async () => {
    const w = await world();
    const head = w.core.ledger.head()!;
    expect(w.queue.entriesReceiptMismatch(entriesReceipt(w, head.seq))).toBeUndefined();
    expect(w.queue.entriesReceiptMismatch(entriesReceipt(w, 0))).toBeUndefined();
    const wrong = createHash('sha256').update('another ledger').digest('hex');
    expect(w.queue.entriesReceiptMismatch(entriesReceipt(w, head.seq, wrong))).toMatch(new RegExp(`entry ${head.seq} with hash ${wrong}, but ours is ${head.hash}`));
    // The hash of an earlier entry at the head's seq is wrong too: the chain, not just any of our hashes, must match.
    expect(w.queue.entriesReceiptMismatch(entriesReceipt(w, head.seq, w.core.ledger.entry(0)!.hash))).toMatch(/but ours is/);
    expect(w.queue.entriesReceiptMismatch(entriesReceipt(w, head.seq + 1, head.hash))).toMatch(new RegExp(`entry ${head.seq + 1}, which this gateway has not written`));
    expect(w.queue.entriesThrough()).toBe(-1);
  });
});

describe('UploadQueue entry batches', () => {
  // Regression: batches were sized in UTF-16 code units, but go out JSON-escaped and UTF-8 encoded; a full batch
  // then exceeded what the receiver accepts, and the gateway resent it forever.
  it('a full batch, sent as Uploader.sendEntries sends it, is an entries message the receiver accepts', async () => {
    const w = await world();
    const body = { ...w.session, start: iso(w.clock.ms), sources: ['cam1', 'mic1'], place: '询问室一号（讯问室）' };
    let total = 0;
    while (total < MAX_ENTRIES_BYTES * 1.2) total += w.core.ledger.append(ENTRY.sessionOpened, body).line.length;
    const lines = w.queue.entryLines(0, MAX_ENTRIES_BYTES);
    expect(lines.length).toBeLessThan(w.core.ledger.head()!.seq + 1);
    const msg = { v: 1, type: 'entries', device: w.deviceId, deadline: iso(w.clock.ms + DEADLINE_HOURS * HOUR), lines: lines.map((l) => l.line) };
    const d = decodeEntries(Buffer.from(JSON.stringify(msg)), w.deviceId);
    expect(d.ok ? 'accepted' : d.problem).toBe('accepted');
  });
});

describe('UploadQueue for a vehicle back from out of coverage', () => {
  it('moves the deadlines of segments that ended while away to 24 h after the return, and the ledger says why', async () => {
    const w = await world();
    const t = w.clock.ms;
    const away = t - 10 * HOUR;
    const [before, during1, during2] = await w.seal([
      { source: 'cam1', seq: 0, endMs: away - HOUR },
      { source: 'cam1', seq: 1, endMs: away + HOUR },
      { source: 'cam1', seq: 2, endMs: away + 2 * HOUR },
    ]);
    w.queue.sync();
    const returned = t;
    expect(w.queue.returned(away, returned, 'returned-to-coverage')).toBe(2);
    expect(w.queue.file(before!)!.deadlineMs).toBe(away - HOUR + DEADLINE_HOURS * HOUR);
    for (const n of [during1!, during2!]) expect(w.queue.file(n)!.deadlineMs).toBe(returned + DEADLINE_HOURS * HOUR);
    const e = w.core.ledger.entry(w.core.ledger.head()!.seq)!;
    expect(e.type).toBe(ENTRY.uploadDeadlineExtended);
    expect(JSON.parse(e.line).body).toEqual({
      reason: 'returned-to-coverage',
      away: { from: iso(away), returned: iso(returned) },
      deadline: iso(returned + DEADLINE_HOURS * HOUR),
      count: 2,
      items: [during1, during2],
    });
    // Nothing left to extend: no second entry.
    expect(w.queue.returned(away, returned, 'returned-to-coverage')).toBe(0);
  });
});
