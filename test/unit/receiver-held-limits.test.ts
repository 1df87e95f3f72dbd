/**
 * Bounded cost per device at the receiver, for ledger lines held ahead of a gap (issue 14, item 6): a device
 * holding its own key floods lines that parse but never link, and the receiver holds at most limits.heldLines
 * (limits.heldMiB) of them, none further than limits.heldAhead past its stored ledger, while the genuine ledger still
 * goes in at once when it comes. A real gateway's ledger, a real receiver.db; the totals kept by triggers are
 * checked against the held lines themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { receiptSigner } from '../helpers/report-store.js';
import { ledgerLines, seedSegments, uplinkGateway } from '../helpers/uplink-world.js';
import { LedgerIngest } from '../../src/receiver/ledger-ingest.js';
import { DEFAULT_LIMITS, DeviceLimits, type LimitsConfig } from '../../src/receiver/limits.js';
import { RECEIVER_MIGRATIONS, openReceiverDb, receiverDbPath } from '../../src/receiver/store-db.js';
import { openStateDb, type Db } from '../../src/state/db.js';
import { splitPemBundle } from '../../src/pki/certs.js';
import { createLogger } from '../../src/util/log.js';
import { agencyEncryption, testAgencyLog } from '../helpers/receiver-store.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';

afterAll(cleanupTmp);

const DEADLINE = '2026-11-27T00:00:00.000Z';
const DEVICE = 'held-dev';
/** A line that parses and names the device, at another seq: its signature no longer verifies, it links nowhere. */
const junkAt = (line: string, seq: number): string => line.replace(/"seq":\d+,/, `"seq":${seq},`);

describe('per-device limits on held ledger lines', () => {
  const ca = makeCa();
  let genuine: string[];

  beforeAll(async () => {
    const gw = uplinkGateway(ca.dir, DEVICE, 'mqtts://127.0.0.1:1');
    await seedSegments(gw, 8, 1000);
    genuine = ledgerLines(gw);
  });

  function world(limits: Partial<LimitsConfig>): { db: Db; ledger: LedgerIngest; logged: Record<string, unknown>[] } {
    const store = tmp('recgw-held-');
    const db = openReceiverDb(store);
    const logged: Record<string, unknown>[] = [];
    const log = createLogger('t', { sink: (l) => logged.push(JSON.parse(l) as Record<string, unknown>) });
    const caPems = splitPemBundle(readFileSync(ca.paths.caCert, 'utf8'));
    const sql = new SqliteReceiverSql(db);
    const ledger = new LedgerIngest(store, sql, caPems, receiptSigner(ca.dir), 'rx-1', log, testAgencyLog(sql), agencyEncryption(ca.dir));
    ledger.useLimits(new DeviceLimits(sql, { ...DEFAULT_LIMITS, ...limits }));
    return { db, logged, ledger };
  }
  const totals = (db: Db): { lines: number; bytes: number } =>
    (db.prepare('SELECT lines, bytes FROM held_totals WHERE device = ?').get(DEVICE) as { lines: number; bytes: number } | undefined) ?? { lines: 0, bytes: 0 };
  const actual = (db: Db): { lines: number; bytes: number } =>
    db.prepare('SELECT COUNT(*) AS lines, COALESCE(SUM(octet_length(line)), 0) AS bytes FROM held WHERE device = ?').get(DEVICE) as { lines: number; bytes: number };
  const now = new Date();

  it('a flood of out-of-order lines is held up to limits.heldLines, the rest refused in one logged line; the genuine ledger then goes in whole', async () => {
    const w = world({ heldLines: 20 });
    const flood = Array.from({ length: 100 }, (_, i) => junkAt(genuine[1]!, 5 + i));
    const out = await w.ledger.ingest(DEVICE, flood, DEADLINE, now);
    expect(out.appended).toBe(0);
    expect(totals(w.db)).toEqual(actual(w.db));
    expect(totals(w.db).lines).toBe(20);
    const refusals = w.logged.filter((l) => l.msg === 'refused out-of-order ledger lines instead of holding them');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 'warn', device: DEVICE, lines: 80, seqs: '25..104' });
    expect(refusals[0]!.problem).toMatch(/held-dev already holds 20 lines ahead of a gap, the most limits\.heldLines \(20\) allows: not held; the gateway sends them again/);

    // The genuine gateway's lines continue the stored ledger: taken although the device is at its limit, and they
    // replace the junk held at their seqs.
    const g = await w.ledger.ingest(DEVICE, genuine, DEADLINE, now);
    expect(g.appended).toBe(genuine.length);
    // The junk held just past the genuine ledger's end is refused when reached, and dropped.
    expect(g.refused).toBe(`entry ${genuine.length}: does not link to the entry before it (prev hash differs)`);
    expect(g.receipt?.through.seq).toBe(genuine.length - 1);
    expect(totals(w.db)).toEqual(actual(w.db));
  });

  it('a line further than limits.heldAhead past the stored ledger is refused', async () => {
    const w = world({ heldAhead: 50 });
    await w.ledger.ingest(DEVICE, genuine.slice(0, 3), DEADLINE, now);
    await w.ledger.ingest(DEVICE, [junkAt(genuine[1]!, 52), junkAt(genuine[1]!, 53), junkAt(genuine[1]!, 1_000_000_000)], DEADLINE, now);
    expect(actual(w.db).lines).toBe(1);
    const r = w.logged.find((l) => l.msg === 'refused out-of-order ledger lines instead of holding them');
    expect(r).toMatchObject({ lines: 2, seqs: '53..1000000000' });
    expect(r!.problem).toMatch(/seq 53 is 51 past the stored ledger of held-dev \(seq 2\), more than limits\.heldAhead \(50\) allows/);
  });

  it('held bytes stop at limits.heldMiB, counted in bytes (not characters)', async () => {
    const w = world({ heldMiB: 1 });
    const flood = Array.from({ length: 2000 }, (_, i) => junkAt(genuine[2]!, 10 + i));
    await w.ledger.ingest(DEVICE, flood, DEADLINE, now);
    const t = totals(w.db);
    expect(t).toEqual(actual(w.db));
    expect(t.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(t.bytes + Buffer.byteLength(flood[0]!)).toBeGreaterThan(1024 * 1024);
    expect(w.logged.find((l) => l.msg === 'refused out-of-order ledger lines instead of holding them')!.problem).toMatch(/limits\.heldMiB is 1/);
  });

  it('the totals follow every insert, replacement and removal, and a store from before them is counted when it is opened', () => {
    const store = tmp('recgw-held-migrate-');
    const old = openStateDb(receiverDbPath(store), { migrations: RECEIVER_MIGRATIONS.slice(0, 3) });
    const put = old.prepare('INSERT INTO held(device, seq, line) VALUES (?, ?, ?)');
    put.run(DEVICE, 7, '张三'.repeat(10));
    put.run(DEVICE, 8, 'x'.repeat(100));
    put.run('other', 1, 'y');
    old.close();
    const db = openReceiverDb(store);
    expect(totals(db)).toEqual({ lines: 2, bytes: 160 });
    expect(totals(db)).toEqual(actual(db));
    db.prepare(`INSERT INTO held(device, seq, line) VALUES (?, 8, 'short') ON CONFLICT(device, seq) DO UPDATE SET line = excluded.line`).run(DEVICE);
    db.prepare(`INSERT INTO held(device, seq, line) VALUES (?, 9, 'nine')`).run(DEVICE);
    db.prepare('DELETE FROM held WHERE device = ? AND seq = 7').run(DEVICE);
    expect(totals(db)).toEqual({ lines: 2, bytes: 9 });
    expect(totals(db)).toEqual(actual(db));
    expect(db.prepare(`SELECT lines, bytes FROM held_totals WHERE device = 'other'`).get()).toEqual({ lines: 1, bytes: 1 });
    db.close();
  });
});
