/**
 * The device's append-only, hash-chained, signed ledger, kept in SQLite. Appending is one transaction, so a
 * crash leaves the whole entry or none; callers may put their own rows in the same transaction (for example
 * the segment index and the removal of the sealing-queue row) so state and ledger never disagree.
 */
import { prepared, type Db } from '../state/db.js';
import type { Signer } from './signer.js';
import { ENTRY } from './types.js';
import {
  FORMAT_VERSION,
  GENESIS_PREV,
  attachSignature,
  encodeUnsigned,
  lineHash,
  lineSuite,
  type UnsignedEntry,
} from './entry.js';
import { RecgwError } from '../util/errors.js';
import { TIME_TOLERANCE_MS } from '../verify/key-lifecycle.js';

export interface AppendedEntry {
  seq: number;
  hash: string;
  time: string;
  type: string;
  line: string;
}

export interface LedgerOptions {
  db: Db;
  deviceId: string;
  signer: Signer;
  now?: () => Date;
  software?: { name: string; version: string };
}

type Listener = (e: AppendedEntry) => void;

export class Ledger {
  private readonly db: Db;
  private readonly deviceId: string;
  private readonly signer: Signer;
  private readonly now: () => Date;
  private readonly software: { name: string; version: string };
  private readonly listeners = new Set<Listener>();
  /** clockRef's answer, kept as entries are written (null: not read yet). */
  private ref: number | undefined | null = null;

  constructor(opts: LedgerOptions) {
    this.db = opts.db;
    this.deviceId = opts.deviceId;
    this.signer = opts.signer;
    this.now = opts.now ?? (() => new Date());
    this.software = opts.software ?? { name: 'recgw', version: '0' };
  }

  /** Open the ledger: write the genesis entry on first use, record a new certificate when it changed. */
  start(): void {
    const last = this.lastCertificate();
    if (last === undefined) {
      this.append(ENTRY.ledgerOpened, { deviceId: this.deviceId, cert: this.signer.certificatePem, software: this.software });
    } else if (last !== this.signer.certificatePem) {
      // A new key of the other suite: the certificate entry is the rotation (evidence-format.md §17.6), written in
      // the new suite and naming the suite it leaves.
      const from = lineSuite(this.headLine() ?? '');
      this.append(ENTRY.certificateInstalled, from === this.suite ? { cert: this.signer.certificatePem } : { cert: this.signer.certificatePem, suiteFrom: from });
    }
  }

  /** The suite this ledger's entries are written in: the signer's (gm for an SM2 key). */
  private get suite(): 'intl' | 'gm' {
    return this.signer.suite ?? 'intl';
  }

  private headLine(): string | undefined {
    return (prepared(this.db, 'SELECT line FROM ledger ORDER BY seq DESC LIMIT 1').get() as { line: string } | undefined)?.line;
  }

  head(): { seq: number; hash: string } | undefined {
    const row = prepared(this.db, 'SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; hash: string }
      | undefined;
    return row;
  }

  /**
   * Append one signed entry. `alsoInTransaction` runs inside the same SQLite transaction with the new entry,
   * so its writes commit or vanish together with it.
   */
  append(type: string, body: Record<string, unknown>, alsoInTransaction?: (e: AppendedEntry) => void): AppendedEntry {
    const run = this.db.transaction((): AppendedEntry[] => {
      const head = this.head();
      if (head === undefined && type !== ENTRY.ledgerOpened) {
        throw new RecgwError('state', 'the ledger has not been opened (no genesis entry); call start() first');
      }
      const now = this.now();
      const out: AppendedEntry[] = [];
      // Entry times may not run backwards beyond the tolerance without a clock.stepped entry (evidence-format.md
      // §5.4): a clock set back while the gateway was off (or a step the watch missed) is recorded as one first.
      const ref = this.clockRef();
      if (type !== ENTRY.clockStepped && ref !== undefined && now.getTime() < ref - TIME_TOLERANCE_MS) {
        const old = new Date(ref).toISOString();
        out.push(this.write(ENTRY.clockStepped, { old, new: now.toISOString(), deltaMs: now.getTime() - ref, sessionId: null, detectedBy: 'ledger' }, now));
      }
      const e = this.write(type, body, now);
      out.push(e);
      alsoInTransaction?.(e);
      return out;
    });
    let written: AppendedEntry[];
    try {
      written = run.immediate();
    } catch (err) {
      this.ref = null; // rolled back: read the committed ledger again
      throw err;
    }
    for (const e of written) for (const l of this.listeners) l(e);
    return written[written.length - 1]!;
  }

  /** Sign and store one entry after the head. */
  private write(type: string, body: Record<string, unknown>, now: Date): AppendedEntry {
    const head = this.head();
    const unsigned: UnsignedEntry = {
      v: FORMAT_VERSION,
      ...(this.suite === 'gm' ? { suite: 'gm' as const } : {}),
      device: this.deviceId,
      seq: head === undefined ? 0 : head.seq + 1,
      prev: head === undefined ? GENESIS_PREV : head.hash,
      time: now.toISOString(),
      type,
      body,
    };
    const text = encodeUnsigned(unsigned);
    const line = attachSignature(text, this.signer.sign(Buffer.from(text, 'utf8')).toString('base64'));
    const e: AppendedEntry = { seq: unsigned.seq, hash: lineHash(line), time: unsigned.time, type, line };
    prepared(this.db, 'INSERT INTO ledger(seq, hash, type, time, line) VALUES (?, ?, ?, ?, ?)').run(e.seq, e.hash, e.type, e.time, e.line);
    const t = now.getTime();
    if (this.ref !== null) this.ref = type === ENTRY.clockStepped || this.ref === undefined ? t : Math.max(this.ref, t);
    return e;
  }

  /** The time the next entry may not fall behind by more than the tolerance: the latest since the last clock step. */
  private clockRef(): number | undefined {
    if (this.ref !== null) return this.ref;
    const r = prepared(
      this.db,
      `SELECT MAX(time) AS t FROM ledger WHERE seq >= (SELECT COALESCE(MAX(seq), 0) FROM ledger WHERE type = '${ENTRY.clockStepped}')`,
    ).get() as { t: string | null };
    this.ref = r.t === null ? undefined : Date.parse(r.t);
    return this.ref;
  }

  /**
   * Be told that an entry was appended. A hint only: when the append ran inside a caller's larger transaction
   * that later rolled back, the entry is gone again, so listeners re-read the ledger rather than trust `e`.
   */
  onAppend(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Lines from `fromSeq` on, in order, for export and upload. */
  *lines(fromSeq = 0): IterableIterator<{ seq: number; line: string }> {
    const stmt = this.db.prepare('SELECT seq, line FROM ledger WHERE seq >= ? ORDER BY seq');
    yield* stmt.iterate(fromSeq) as IterableIterator<{ seq: number; line: string }>;
  }

  entry(seq: number): AppendedEntry | undefined {
    return prepared(this.db, 'SELECT seq, hash, time, type, line FROM ledger WHERE seq = ?').get(seq) as AppendedEntry | undefined;
  }

  private lastCertificate(): string | undefined {
    const row = this.db
      .prepare(`SELECT line FROM ledger WHERE type IN (?, ?) ORDER BY seq DESC LIMIT 1`)
      .get(ENTRY.ledgerOpened, ENTRY.certificateInstalled) as { line: string } | undefined;
    if (!row) return undefined;
    return (JSON.parse(row.line) as { body: { cert: string } }).body.cert;
  }
}
