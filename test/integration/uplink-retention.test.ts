/**
 * Local retention (docs/uplink-protocol.md §6): a sealed file goes only after its receipt was recorded and
 * retentionHours have passed; the segment.deleted entry commits before the unlink; a crash in between is finished
 * at the next start; and the device exported afterwards still verifies. Segments are sealed by seedSegments (the
 * real Sealer), then the evidence core is opened again on a test clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { seedSegments } from '../helpers/uplink-world.js';
import { verify } from '../helpers/evidence.js';
import { startEvidenceCore, stateDbPath, type EvidenceCore } from '../../src/app/evidence-core.js';
import { exportDevice } from '../../src/evidence/export.js';
import { ENTRY } from '../../src/evidence/types.js';
import { KeySigner, type Signer } from '../../src/evidence/signer.js';
import { makeReceipt, type SegmentReceipt } from '../../src/evidence/receipt.js';
import { manifestFilePath } from '../../src/evidence/sealer.js';
import { caPaths } from '../../src/pki/ca.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import type { Provisioned } from '../../src/demo/provision.js';
import { UploadQueue } from '../../src/uplink/queue.js';
import { Retention } from '../../src/uplink/retention.js';

const HOUR = 3600_000;
const MIN = 60_000;

let ca: ReturnType<typeof makeCa>;
let receiptSigner: Signer;

beforeAll(() => {
  ca = makeCa();
  const p = caPaths(ca.dir);
  receiptSigner = new KeySigner(createPrivateKey(readFileSync(p.receiptKey, 'utf8')), readFileSync(p.receiptCert, 'utf8'));
});
afterAll(cleanupTmp);

const open: EvidenceCore[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
});

interface World {
  gw: Provisioned;
  names: string[];
  core: EvidenceCore;
  queue: UploadQueue;
  clock: { ms: number };
  logs: { level: string; msg: string }[];
  retention(): Retention;
  /** Record the agency's receipt for a segment at the clock's time; returns the receipt.received seq. */
  receipt(name: string): number;
  /** Open the evidence core again, as a restart would. */
  restart(): Promise<void>;
}

async function world(count = 3): Promise<World> {
  const gw = makeGateway(ca.dir);
  const names = await seedSegments(gw, count, 4096);
  const clock = { ms: Date.now() };
  const logs: World['logs'] = [];
  const log = createLogger('test', { level: 'debug', sink: (l) => logs.push(JSON.parse(l) as World['logs'][number]) });
  const w = {
    gw,
    names,
    clock,
    logs,
    retention: () => new Retention(w.core.db, w.core.ledger, 1, log),
    receipt(name: string): number {
      const f = w.queue.file(name)!;
      const r = makeReceipt(
        {
          kind: 'segment',
          device: gw.config.deviceId,
          name,
          size: f.size,
          sha256: f.sha256,
          manifestSeq: f.manifestSeq,
          deadline: new Date(f.deadlineMs).toISOString(),
          storedAt: new Date().toISOString(),
          receiver: 'receiver:1',
        },
        receiptSigner,
      ) as SegmentReceipt;
      expect(w.queue.segmentReceiptMismatch(r)).toBeUndefined();
      expect(w.queue.acceptSegmentReceipt(r, clock.ms)).toBe(true);
      return w.queue.file(name)!.receiptSeq!;
    },
    async restart() {
      if (w.core) {
        await w.core.stop();
        open.splice(open.indexOf(w.core), 1);
      }
      w.core = await startEvidenceCore(gw.config, silentLogger, () => new Date(clock.ms));
      open.push(w.core);
      w.queue = new UploadQueue(w.core.db, w.core.ledger, 24);
      w.queue.sync();
    },
  } as World;
  await w.restart();
  return w;
}

const sealedPath = (w: World, name: string): string => w.queue.file(name)!.file;

const deletions = (w: World): { seq: number; body: Record<string, unknown> }[] =>
  (w.core.db.prepare('SELECT seq, line FROM ledger WHERE type = ? ORDER BY seq').all(ENTRY.segmentDeleted) as { seq: number; line: string }[]).map((r) => ({
    seq: r.seq,
    body: (JSON.parse(r.line) as { body: Record<string, unknown> }).body,
  }));

const localState = (w: World, name: string): string =>
  (w.core.db.prepare('SELECT local_state FROM segments WHERE name = ?').get(name) as { local_state: string }).local_state;

describe('Retention', () => {
  it('removes a file only after its receipt plus retentionHours, committing segment.deleted before the unlink', async () => {
    const w = await world();
    const [a, b, c] = w.names as [string, string, string];
    const retention = w.retention();
    const T = w.clock.ms;

    // Without receipts nothing goes, however long it waits.
    expect(await retention.sweep(T + 30 * 24 * HOUR)).toBe(0);
    for (const n of w.names) expect(existsSync(sealedPath(w, n))).toBe(true);

    w.clock.ms = T + 2 * HOUR;
    const R = w.clock.ms;
    const receiptSeq = w.receipt(a);
    expect(await retention.sweep(R)).toBe(0);
    expect(await retention.sweep(R + HOUR - 1)).toBe(0);
    expect(existsSync(sealedPath(w, a))).toBe(true);
    expect(deletions(w)).toEqual([]);

    // Watch the moment the entry is appended: another connection must already see it committed, with the segment
    // marked deleted, while the file is still on disk.
    const seen: { committed: boolean; marked: string; fileThere: boolean }[] = [];
    const file = sealedPath(w, a);
    const reader = new Database(stateDbPath(w.gw.config.stateDir), { readonly: true });
    const off = w.core.ledger.onAppend((e) => {
      if (e.type !== ENTRY.segmentDeleted) return;
      seen.push({
        committed: reader.prepare('SELECT 1 AS x FROM ledger WHERE seq = ?').get(e.seq) !== undefined,
        marked: (reader.prepare('SELECT local_state FROM segments WHERE name = ?').get(a) as { local_state: string }).local_state,
        fileThere: existsSync(file),
      });
    });
    try {
      w.clock.ms = R + HOUR;
      expect(await retention.sweep(R + HOUR)).toBe(1);
    } finally {
      off();
      reader.close();
    }
    expect(seen).toEqual([{ committed: true, marked: 'deleted', fileThere: true }]);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(sealedPath(w, b))).toBe(true);
    expect(existsSync(sealedPath(w, c))).toBe(true);

    const receiptEntry = JSON.parse(w.core.ledger.entry(receiptSeq)!.line) as { type: string; body: { receipt: { name: string } } };
    expect(receiptEntry.type).toBe(ENTRY.receiptReceived);
    expect(receiptEntry.body.receipt.name).toBe(a);
    expect(deletions(w).map((d) => d.body)).toEqual([{ segment: a, file: manifestFilePath(a), receiptSeq }]);
    expect(deletions(w)[0]!.seq).toBeGreaterThan(receiptSeq);
    expect(localState(w, a)).toBe('deleted');

    // Later sweeps do not delete it again.
    expect(await retention.sweep(R + 5 * HOUR)).toBe(0);
    expect(deletions(w)).toHaveLength(1);
    expect(w.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a crash between the committed deletion and the unlink is finished by the next Retention\'s first sweep', async () => {
    const w = await world(2);
    const [a, b] = w.names as [string, string];
    const R = w.clock.ms;
    const receiptSeq = w.receipt(a);
    w.receipt(b);
    const file = sealedPath(w, a);
    // What sweep() commits, done by hand with the same SQL, and then the "crash": the file is never unlinked.
    w.clock.ms = R + 10 * MIN;
    w.core.ledger.append(ENTRY.segmentDeleted, { segment: a, file: manifestFilePath(a), receiptSeq }, () =>
      w.core.db.prepare(`UPDATE segments SET local_state = 'deleted' WHERE name = ?`).run(a),
    );
    expect(existsSync(file)).toBe(true);

    await w.restart();
    const retention = w.retention();
    // Nothing is due yet (both receipted 30 min before), so only the recovery can remove a's file.
    expect(await retention.sweep(R + 30 * MIN)).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(sealedPath(w, b))).toBe(true);
    // Finishing writes no second entry: the ledger already shows the removal.
    expect(deletions(w)).toHaveLength(1);
    expect(w.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a device exported after receipted deletions (one finished after a crash) verifies', async () => {
    const w = await world(3);
    const [a, b, c] = w.names as [string, string, string];
    const seqA = w.receipt(a);
    const seqB = w.receipt(b);
    // b: deletion committed, then a "crash" before the unlink; a: removed by the sweep after the restart; c: no
    // receipt, stays.
    w.clock.ms += HOUR;
    w.core.ledger.append(ENTRY.segmentDeleted, { segment: b, file: manifestFilePath(b), receiptSeq: seqB }, () =>
      w.core.db.prepare(`UPDATE segments SET local_state = 'deleted' WHERE name = ?`).run(b),
    );
    await w.restart();
    expect(await w.retention().sweep(w.clock.ms)).toBe(1);
    expect(deletions(w).map((d) => [d.body.segment, d.body.receiptSeq])).toEqual([
      [b, seqB],
      [a, seqA],
    ]);
    for (const n of [a, b]) expect(existsSync(sealedPath(w, n))).toBe(false);

    const store = tmp('recgw-ret-store-');
    const deviceId = w.gw.config.deviceId;
    const res = await exportDevice({ db: w.core.db, ledger: w.core.ledger, signer: w.core.identity.signer, deviceId, outDir: join(store, deviceId) });
    expect(res.segments).toBe(1);
    expect(existsSync(join(store, deviceId, manifestFilePath(c)))).toBe(true);
    expect(existsSync(join(store, deviceId, manifestFilePath(a)))).toBe(false);

    for (const agencyKey of [undefined, ca.paths.agencyKey]) {
      const report = await verify(store, ca.paths.caCert, agencyKey);
      expect(report.findings).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.devices[0]!.segments).toBe(3);
      expect(report.devices[0]!.deletedSegments).toBe(2);
    }
  });
});
