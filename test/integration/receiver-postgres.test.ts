/**
 * The receivers' coordination in PostgreSQL (issue 17, item 1), through the ingests' own code: each "receiver" here
 * has its own pool of connections to one database and one store folder, as receivers on several hosts would. What
 * is checked is what SQLite's single write lock gave on one host: a device's ledger appended in order and once
 * however its messages are spread over receivers, each chunk's bytes claimed by one receiver, a file stored and
 * receipted once, and the held-line totals the limits read kept exact by the trigger. And the agency log in the same
 * database: every receiver appends to one log inside its ingest's transaction, in order, each checkpoint signing the
 * RFC 6962 root of the leaves PostgreSQL holds, a rolled-back ingest leaving no leaf, and the log's files published
 * from PostgreSQL by receivers in turn, as the verifier reads them.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { receiptSigner } from '../helpers/report-store.js';
import { ledgerLines, seedSegments, uplinkGateway } from '../helpers/uplink-world.js';
import { agencyEncryption } from '../helpers/receiver-store.js';
import { LedgerIngest } from '../../src/receiver/ledger-ingest.js';
import { FileIngest, type ChunkOutcome } from '../../src/receiver/file-ingest.js';
import { DEFAULT_LIMITS, DeviceLimits } from '../../src/receiver/limits.js';
import { openPostgresReceiverSql } from '../../src/receiver/postgres-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import { AgencyLog, type Appended, type LeafLog } from '../../src/receiver/agency-log.js';
import { LogFiles } from '../../src/receiver/log-files.js';
import { logOrigin } from '../../src/pki/ca.js';
import type { LogLeaf } from '../../src/evidence/log-leaf.js';
import { openCheckpoint } from '../../src/tlog/checkpoint.js';
import { parseProof } from '../../src/tlog/proof-text.js';
import { leafHash, verifyInclusion } from '../../src/tlog/merkle.js';
import { CHECKPOINT_FILE } from '../../src/tlog/tiles.js';
import { readLogView } from '../../src/verify/log-view.js';
import { splitPemBundle } from '../../src/pki/certs.js';
import { silentLogger } from '../../src/util/log.js';
import { sealedFileName } from '../../src/evidence/sealer.js';
import { LEDGER_FILE } from '../../src/evidence/head.js';
import type { ChunkHeader } from '../../src/uplink/wire.js';
import { Filing, stage } from '../../src/receiver/filing.js';
import { FolderStore } from '../../src/store/folder-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import { RECEIPTS_FILE } from '../../src/evidence/receipt.js';

afterAll(cleanupTmp);

let theCa: ReturnType<typeof makeCa> | undefined;
const makeCaOnce = (): ReturnType<typeof makeCa> => (theCa ??= makeCa());

const DEADLINE = '2026-11-27T00:00:00.000Z';
const MiB = 1024 * 1024;
/** Counts the leaves appended, so that "stored once" shows in the log too. */
const countingLog = (): LeafLog & { leaves: number } => {
  const log = {
    leaves: 0,
    append: async (_tx: unknown, leaves: unknown[]) => {
      const first = log.leaves;
      log.leaves += leaves.length;
      return { first, size: log.leaves, checkpoint: '', proof: undefined };
    },
  };
  return log;
};

const caPems = splitPemBundle(readFileSync(makeCaOnce().paths.caCert, 'utf8'));
const logKey = createPrivateKey(readFileSync(makeCaOnce().paths.logKey, 'utf8'));
const logPub = createPublicKey(logKey);
const origin = logOrigin(caPems[0]!);
/** The agency log a receiver runs, on its own connections. */
const agencyLogOn = (s: ReceiverSql): AgencyLog => new AgencyLog(s, logKey, origin);
const segLeaf = (name: string): LogLeaf => ({ v: 1, kind: 'segment', device: 'pg-log-dev', name: `seg-${name}`, size: 1, sha256: '0'.repeat(64), manifestSeq: 1, accepted: '2026-12-07T10:00:00.000Z' });

async function storedLeaves(s: ReceiverSql): Promise<Buffer[]> {
  return (await s.query<{ leaf: Buffer }>('SELECT leaf FROM log_leaves ORDER BY idx')).map((r) => r.leaf);
}

/** RFC 6962 §2.1 over the leaves' bytes. */
function mth(leaves: Buffer[]): Buffer {
  const sha = (...parts: Uint8Array[]): Buffer => parts.reduce((h, x) => h.update(x), createHash('sha256')).digest();
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** A receipt's log proof: its checkpoint signs the root of the first `size` stored leaves, and the leaf is in it. */
function expectProved(text: string, leaves: Buffer[]): void {
  const pr = parseProof(text);
  if ('why' in pr) throw new Error(pr.why);
  const cp = openCheckpoint(pr.checkpoint, origin, logPub);
  if ('why' in cp) throw new Error(cp.why);
  expect(cp.root.toString('hex'), `the checkpoint of ${cp.size} leaves signs the root of the leaves stored`).toBe(mth(leaves.slice(0, cp.size)).toString('hex'));
  expect(verifyInclusion(leafHash(leaves[pr.index]!), pr.index, cp.size, pr.hashes, cp.root)).toBe(true);
}

describe('receivers coordinating through PostgreSQL', () => {
  const pgs = withPostgres();
  const ca = makeCaOnce();
  const sqls: ReceiverSql[] = [];
  let n = 0;
  /** `count` receivers' connections to a new database. */
  async function receivers(count: number): Promise<{ url: string; sql: ReceiverSql[] }> {
    const url = await createDatabase(pgs.server(), `rcv_${++n}`);
    // Opened at once, as receivers starting together on several hosts: each migrates, the schema is made once.
    const sql = await Promise.all(Array.from({ length: count }, () => openPostgresReceiverSql(url, `PostgreSQL database rcv_${n}`)));
    sqls.push(...sql);
    return { url, sql };
  }
  afterAll(async () => {
    await Promise.all(sqls.map((s) => s.close()));
  });

  it('receivers starting at once apply the schema once, in a schema of its own beside the index', async () => {
    const { url } = await receivers(3);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const v = await c.query<{ version: number; name: string }>('SELECT version, name FROM receiver.schema_migrations ORDER BY version');
      expect(v.rows).toEqual([
        { version: 1, name: 'receiver coordination tables' },
        { version: 2, name: 'device folder writes after commit' },
        { version: 3, name: 'manifest hash algorithm' },
        { version: 4, name: 'agency log head with its edge' },
        { version: 5, name: 'retention deletions' },
        { version: 6, name: 'multipart uploads' },
        { version: 7, name: 'filed lengths' },
      ]);
      const tables = await c.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
      expect(tables.rows).toEqual([]);
    } finally {
      await c.end();
    }
  });

  it("filing: receivers filing one device's staged receipts at once write each line once, in order; the device's transactions are not held up meanwhile", async () => {
    const { sql } = await receivers(3);
    const dir = tmp('recgw-pg-filing-');
    const folder = new FolderStore(dir);
    // Each receiver's store holds its append until the test lets it go, so that filings overlap for certain.
    const gates: (() => void)[] = [];
    let appending = 0;
    const gated = (s: EvidenceStore): EvidenceStore =>
      Object.assign(Object.create(s) as EvidenceStore, {
        append: async (name: string, offset: number, data: Buffer) => {
          appending++;
          await new Promise<void>((r) => gates.push(r));
          return s.append(name, offset, data);
        },
      });
    const lines = Array.from({ length: 12 }, (_, i) => `{"receipt":${i}}`);
    for (const l of lines) await sql[0]!.transaction((tx) => stage(tx, 'dev-1', RECEIPTS_FILE, l), { device: 'dev-1' });
    const filings = sql.map((q) => new Filing(gated(folder), q).file('dev-1'));
    await vi.waitFor(() => expect(appending).toBe(1));
    // One filing holds the device's filing lock inside its store write; a transaction of the device goes on.
    const staged = sql[1]!.transaction(async (tx) => {
      await stage(tx, 'dev-1', RECEIPTS_FILE, '{"receipt":12}');
      return 'committed';
    }, { device: 'dev-1' });
    expect(await Promise.race([staged, new Promise((r) => setTimeout(() => r('held up'), 5000))])).toBe('committed');
    // The others wait for the filing lock, not in the store.
    await new Promise((r) => setTimeout(r, 200));
    expect(appending).toBe(1);
    const release = setInterval(() => gates.shift()?.(), 20);
    try {
      await Promise.all(filings);
      await new Filing(folder, sql[2]!).file('dev-1');
    } finally {
      clearInterval(release);
    }
    expect(readFileSync(join(dir, 'dev-1', RECEIPTS_FILE), 'utf8')).toBe([...lines, '{"receipt":12}'].map((l) => `${l}\n`).join(''));
    expect(await sql[0]!.query('SELECT id FROM unfiled')).toEqual([]);
  });

  describe('a device ledger', () => {
    const DEVICE = 'pg-ledger-dev';
    let lines: string[];
    beforeAll(async () => {
      const gw = uplinkGateway(ca.dir, DEVICE, 'mqtts://127.0.0.1:1');
      await seedSegments(gw, 12, 1000);
      lines = ledgerLines(gw);
    }, 60_000);

    it("spread over three receivers out of order and all at once, is appended in order, each entry once, each manifest recorded once", async () => {
      const { sql } = await receivers(3);
      const store = tmp('recgw-pg-store-');
      const caPems = splitPemBundle(readFileSync(ca.paths.caCert, 'utf8'));
      // Each receiver its own AgencyLog on its own connections, as on several hosts: one log in the database.
      const logs = sql.map((s) => agencyLogOn(s));
      const ingests = sql.map((s, i) => {
        const l = new LedgerIngest(store, s, caPems, receiptSigner(ca.dir), `receiver:${i}`, silentLogger, logs[i]!, agencyEncryption(ca.dir));
        l.useLimits(new DeviceLimits(s, DEFAULT_LIMITS));
        return l;
      });
      // Messages of 3 lines, latest first, dealt round-robin and sent twice: every receiver holds some ahead of a gap.
      const batches: string[][] = [];
      for (let i = 0; i < lines.length; i += 3) batches.push(lines.slice(i, i + 3));
      const sends = [...batches.reverse(), ...batches];
      const outs = await Promise.all(sends.map((b, k) => ingests[k % 3]!.ingest(DEVICE, b, DEADLINE, new Date())));
      expect(outs.filter((o) => o.refused)).toEqual([]);
      expect(outs.reduce((a, o) => a + o.appended, 0)).toBe(lines.length);
      expect(readFileSync(join(store, DEVICE, LEDGER_FILE), 'utf8')).toBe(lines.map((l) => l + '\n').join(''));
      // One leaf per entry, in ledger order, and every receipt proves its last entry in the log it was signed against.
      const leaves = await storedLeaves(sql[2]!);
      expect(leaves.map((l) => (JSON.parse(l.toString()) as { seq: number }).seq)).toEqual(lines.map((_, i) => i));
      for (const o of outs.filter((x) => x.receipt)) expectProved(o.receipt!.log!, leaves);
      expect(await ingests[0]!.deviceState(DEVICE)).toMatchObject({ seq: lines.length - 1 });
      const [rows] = await sql[1]!.query<{ entries: number; manifests: number; held: number; totals: number }>(
        `SELECT (SELECT COUNT(*) FROM entries) AS entries, (SELECT COUNT(*) FROM manifests) AS manifests,
                (SELECT COUNT(*) FROM held) AS held, (SELECT COALESCE(SUM(lines), 0) FROM held_totals) AS totals`,
      );
      expect(rows).toMatchObject({ entries: lines.length, manifests: 12, held: 0 });
      expect(Number(rows!.totals)).toBe(0);
    }, 60_000);

    it('held-line totals follow inserts, replacements and deletes, in bytes', async () => {
      const { sql } = await receivers(1);
      const s = sql[0]!;
      await s.transaction(async (tx) => {
        await tx.query('INSERT INTO held(device, seq, line) VALUES ($1, 7, $2), ($1, 8, $3), ($4, 1, $5)', [DEVICE, '张三'.repeat(10), 'x'.repeat(100), 'other', 'y']);
        await tx.query(`INSERT INTO held(device, seq, line) VALUES ($1, 8, 'short') ON CONFLICT(device, seq) DO UPDATE SET line = excluded.line`, [DEVICE]);
        await tx.query('DELETE FROM held WHERE device = $1 AND seq = 7', [DEVICE]);
      });
      expect(await new DeviceLimits(s, DEFAULT_LIMITS).held(DEVICE)).toEqual({ lines: 1, bytes: 5 });
      expect(await new DeviceLimits(s, DEFAULT_LIMITS).held('other')).toEqual({ lines: 1, bytes: 1 });
    });
  });

  it("one file's chunks sent to three receivers at once, twice over: each byte claimed by one, the file stored and receipted once", async () => {
    const { sql } = await receivers(3);
    const store = tmp('recgw-pg-files-');
    const DEVICE = 'pg-files-dev';
    const file = randomBytes(4 * MiB + 100);
    const sha256 = createHash('sha256').update(file).digest('hex');
    await sql[0]!.query('INSERT INTO manifests(device, name, seq, size, sha256) VALUES ($1, $2, 1, $3, $4)', [DEVICE, 'seg-1', file.length, sha256]);
    const log = countingLog();
    const ingests = sql.map((s, i) => {
      const f = new FileIngest(store, s, receiptSigner(ca.dir), `receiver:${i}`, log);
      f.useLimits(new DeviceLimits(s, DEFAULT_LIMITS));
      return f;
    });
    const header = (offset: number): ChunkHeader => ({ v: 1, device: DEVICE, name: 'seg-1', offset, size: file.length, sha256, deadline: DEADLINE });
    const offsets = Array.from({ length: 5 }, (_, i) => i * MiB);
    const sends = [...offsets, ...offsets.reverse()];
    // Each receiver takes its messages one at a time (as Receiver does: its chunk writer has one slot); the three at once.
    const outs = await Promise.all(
      ingests.map(async (f, i) => {
        const mine: ChunkOutcome[] = [];
        for (const o of sends.filter((_, k) => k % 3 === i)) mine.push(await f.chunk(header(o), file.subarray(o, o + MiB)));
        return mine;
      }),
    );
    expect(outs.flat().every((o) => o.kind === 'written' || o.kind === 'ignored')).toBe(true);
    // Claims never overlap: the ranges written add up to the file exactly.
    const ranges = await sql[2]!.query<{ offset: number; len: number }>('SELECT "offset", len FROM chunks WHERE claimed_at IS NULL ORDER BY "offset"');
    expect(ranges.reduce((a, r) => a + r.len, 0)).toBe(file.length);
    const results = await Promise.all(ingests.map((f) => f.finalize(DEVICE, 'seg-1', () => new Date())));
    const receipts = results.filter((r) => r && !('refused' in r));
    expect(receipts).toHaveLength(1);
    expect(log.leaves).toBe(1);
    // By hash: toEqual walks a 4 MiB Buffer byte by byte (40 s here).
    expect(createHash('sha256').update(readFileSync(join(store, DEVICE, 'segments', sealedFileName('seg-1')))).digest('hex')).toBe(sha256);
    expect(await ingests[1]!.state(DEVICE, 'seg-1')).toMatchObject({ state: { stored: true } });
  }, 60_000);

  describe('the agency log', () => {
    it('receivers on three pools appending at once: one log, sizes in order, each checkpoint the root of what PostgreSQL holds; a rolled-back ingest leaves no leaf', async () => {
      const { sql } = await receivers(3);
      const logs = sql.map((s) => agencyLogOn(s));
      // 60 appends of 1-5 leaves, all at once over three pools; every tenth rolls back after appending.
      const outcomes = await Promise.all(
        Array.from({ length: 60 }, (_, k) =>
          sql[k % 3]!.transaction(async (tx) => {
            const a = await logs[k % 3]!.append(tx, Array.from({ length: (k % 5) + 1 }, (_, j) => segLeaf(`${k}-${j}`)));
            if (k % 10 === 9) throw new Error('the bookkeeping failed');
            return a;
          }).catch((err: Error) => err),
        ),
      );
      const kept = outcomes.filter((o): o is Appended => !(o instanceof Error));
      expect(kept).toHaveLength(54);
      const leaves = await storedLeaves(sql[0]!);
      expect(leaves).toHaveLength(kept.reduce((n, a) => n + (a.size - a.first), 0));
      expect(leaves.some((l) => /"seg-9-0"/.test(l.toString()))).toBe(false);
      // The appends follow one another: each begins where one before it ended.
      expect(kept.map((a) => a.first).sort((x, y) => x - y)).toEqual([0, ...kept.map((a) => a.size).sort((x, y) => x - y).slice(0, -1)]);
      for (const a of kept) expectProved(a.proof!, leaves.slice(0, a.size));
    }, 60_000);

    it("its files are published from PostgreSQL by receivers in turn, as the verifier reads them, and never go back", async () => {
      const { sql } = await receivers(2);
      const store = tmp('recgw-pg-logfiles-');
      const logs = sql.map((s) => agencyLogOn(s));
      const files = logs.map((l) => new LogFiles(store, l));
      await files[0]!.republish(readFileSync(ca.paths.logCert, 'utf8'));
      for (let k = 0, n = 0; n < 700; k++) {
        const count = [3, 250, 1, 90, 200, 156][k % 6]!;
        await sql[k % 2]!.transaction((tx) => logs[k % 2]!.append(tx, Array.from({ length: count }, (_, j) => segLeaf(`${n + j}`))));
        n += count;
        await files[k % 2]!.publish();
      }
      // The receiver that published first and last: each publication of the other moved the checkpoint on.
      await files[0]!.publish();
      const problems: string[] = [];
      const view = readLogView(join(store, 'log'), caPems, [], new Set(), (d) => problems.push(d));
      expect(problems).toEqual([]);
      expect(view?.size).toBe((await logs[1]!.head()).size);
      expect(readFileSync(join(store, 'log', CHECKPOINT_FILE), 'utf8')).toBe((await logs[0]!.head()).checkpoint);
    }, 60_000);
  });
});
