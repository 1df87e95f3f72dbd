/**
 * The durable upload queue in the gateway's state database: which ledger entries and sealed files still lack the
 * agency's receipt, and their deadlines. Derived from the ledger and the segments table, so a crash at any point
 * loses nothing: `sync()` re-enqueues whatever a crash left out.
 */
import type { Db } from '../state/db.js';
import { kvGet, kvSet, lightly, prepared } from '../state/db.js';
import type { Ledger } from '../evidence/ledger.js';
import { ENTRY } from '../evidence/types.js';
import type { EntriesReceipt, SegmentReceipt } from '../evidence/receipt.js';

export interface QueuedFile {
  name: string;
  file: string;
  size: number;
  sha256: string;
  manifestSeq: number;
  deadlineMs: number;
}

export interface QueueSummary {
  entries: number;
  files: number;
  bytes: number;
  nextDeadlineMs: number | null;
}

const ENTRIES_THROUGH = 'uplink.entries.through';
const HOUR = 3600_000;
/** The entries message around its lines: version, type, device, deadline. */
const ENVELOPE_BYTES = 512;

export class UploadQueue {
  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private deadlineHours: number,
  ) {}

  /** A changed config's deadline applies to what is queued from now on; queued items keep the deadline they have. */
  setDeadlineHours(hours: number): void {
    this.deadlineHours = hours;
  }

  /** Enqueue sealed segments not yet queued; their deadline counts from the segment's end. */
  sync(): number {
    const rows = prepared(this.db, 'SELECT s.name, s.end_time FROM segments s LEFT JOIN uplink_files u ON u.name = s.name WHERE u.name IS NULL').all() as {
      name: string;
      end_time: string;
    }[];
    if (rows.length === 0) return 0;
    const ins = prepared(this.db, 'INSERT OR IGNORE INTO uplink_files(name, deadline_ms) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const r of rows) ins.run(r.name, Date.parse(r.end_time) + this.deadlineHours * HOUR);
    })();
    return rows.length;
  }

  /**
   * A vehicle back in coverage: uploads of segments that ended while it was out (from `awayFromMs`) are due
   * `deadlineHours` after its return, not after the segment's end (regulation: within 24 h of returning). The
   * ledger records the extension and why, in the same transaction.
   */
  returned(awayFromMs: number, returnedAtMs: number, reason: string): number {
    const due = returnedAtMs + this.deadlineHours * HOUR;
    const rows = prepared(
      this.db,
      `SELECT u.name, u.deadline_ms AS was FROM uplink_files u JOIN segments s ON s.name = u.name
        WHERE u.receipt_seq IS NULL AND u.deadline_ms < ? ORDER BY u.deadline_ms, u.name`,
    ).all(due) as { name: string; was: number }[];
    // Only segments that ended while away: their end is deadline - deadlineHours.
    const away = rows.filter((r) => r.was - this.deadlineHours * HOUR >= awayFromMs);
    if (away.length === 0) return 0;
    const set = prepared(this.db, 'UPDATE uplink_files SET deadline_ms = ? WHERE name = ?');
    this.ledger.append(
      ENTRY.uploadDeadlineExtended,
      {
        reason,
        away: { from: new Date(awayFromMs).toISOString(), returned: new Date(returnedAtMs).toISOString() },
        deadline: new Date(due).toISOString(),
        count: away.length,
        items: away.slice(0, 100).map((r) => r.name),
      },
      () => {
        for (const r of away) set.run(due, r.name);
      },
    );
    return away.length;
  }

  /** The last entry seq the receiver has confirmed (-1 when none). */
  entriesThrough(): number {
    const v = kvGet(this.db, ENTRIES_THROUGH);
    return v === undefined ? -1 : Number(v);
  }

  /** Deadline of the oldest entry without a receipt, or null when all are receipted. */
  entriesDeadlineMs(): number | null {
    const e = this.ledger.entry(this.entriesThrough() + 1);
    return e ? Date.parse(e.time) + this.deadlineHours * HOUR : null;
  }

  /** Whether a segment manifest (which the receiver needs before it can store that file) is at or after `fromSeq`. */
  manifestFrom(fromSeq: number): boolean {
    return prepared(this.db, 'SELECT 1 FROM ledger WHERE seq >= ? AND type = ? LIMIT 1').get(fromSeq, ENTRY.segmentSealed) !== undefined;
  }

  /**
   * Consecutive ledger lines from `fromSeq` whose entries message stays within `maxBytes` (at least one line).
   * Counted as sent: each line JSON-escaped and UTF-8 encoded, plus a comma, plus room for the envelope.
   */
  entryLines(fromSeq: number, maxBytes: number): { seq: number; line: string }[] {
    const out: { seq: number; line: string }[] = [];
    let bytes = ENVELOPE_BYTES;
    for (const row of this.ledger.lines(fromSeq)) {
      const size = Buffer.byteLength(JSON.stringify(row.line), 'utf8') + 1;
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(row);
      bytes += size;
    }
    return out;
  }

  /** Files without a receipt, earliest deadline first. */
  nextFiles(limit: number): QueuedFile[] {
    return prepared(
      this.db,
      `SELECT u.name, s.file, s.stored_size AS size, s.stored_sha256 AS sha256, s.ledger_seq AS manifestSeq, u.deadline_ms AS deadlineMs
        FROM uplink_files u JOIN segments s ON s.name = u.name
        WHERE u.receipt_seq IS NULL ORDER BY u.deadline_ms, u.name LIMIT ?`,
    ).all(limit) as QueuedFile[];
  }

  file(name: string): (QueuedFile & { receiptSeq: number | null }) | undefined {
    return prepared(
      this.db,
      `SELECT u.name, s.file, s.stored_size AS size, s.stored_sha256 AS sha256, s.ledger_seq AS manifestSeq, u.deadline_ms AS deadlineMs, u.receipt_seq AS receiptSeq
        FROM uplink_files u JOIN segments s ON s.name = u.name WHERE u.name = ?`,
    ).get(name) as (QueuedFile & { receiptSeq: number | null }) | undefined;
  }

  /**
   * Why an entries receipt does not match our own ledger, or undefined when it does. A receipt for a hash we never
   * wrote would mean the receiver holds a different ledger under our name.
   */
  entriesReceiptMismatch(r: EntriesReceipt): string | undefined {
    const own = this.ledger.entry(r.through.seq);
    if (!own) return `it confirms entry ${r.through.seq}, which this gateway has not written`;
    if (own.hash !== r.through.hash) return `it confirms entry ${r.through.seq} with hash ${r.through.hash}, but ours is ${own.hash}`;
    return undefined;
  }

  /** Record a matching entries receipt; returns true when it moved the confirmed point forward. */
  acceptEntriesReceipt(r: EntriesReceipt): boolean {
    if (r.through.seq <= this.entriesThrough()) return false;
    // Not fsynced (one per receipt otherwise): after a power cut this point may be a little behind, and the
    // receiver's state answer to the next hello carries the receipt again.
    lightly(this.db, () => kvSet(this.db, ENTRIES_THROUGH, String(r.through.seq)));
    return true;
  }

  segmentReceiptMismatch(r: SegmentReceipt): string | undefined {
    const f = this.file(r.name);
    if (!f) return `it is for segment ${r.name}, which this gateway did not queue`;
    if (f.size !== r.size || f.sha256 !== r.sha256 || f.manifestSeq !== r.manifestSeq) {
      return `it states size ${r.size}, sha256 ${r.sha256}, manifest ${r.manifestSeq} for ${r.name}, but ours are ${f.size}, ${f.sha256}, ${f.manifestSeq}`;
    }
    return undefined;
  }

  /** Record a segment receipt in the ledger (once); returns true when it was new. */
  acceptSegmentReceipt(r: SegmentReceipt, nowMs: number): boolean {
    const f = this.file(r.name);
    if (!f || f.receiptSeq !== null) return false;
    this.ledger.append(ENTRY.receiptReceived, { receipt: r as unknown as Record<string, unknown> }, (e) => {
      prepared(this.db, 'UPDATE uplink_files SET receipt_seq = ?, receipted_at_ms = ? WHERE name = ?').run(e.seq, nowMs, r.name);
    });
    return true;
  }

  summary(): QueueSummary {
    const f = prepared(
      this.db,
      `SELECT COUNT(*) AS files, COALESCE(SUM(s.stored_size), 0) AS bytes, MIN(u.deadline_ms) AS next
        FROM uplink_files u JOIN segments s ON s.name = u.name WHERE u.receipt_seq IS NULL`,
    ).get() as { files: number; bytes: number; next: number | null };
    const head = this.ledger.head();
    const entries = head ? head.seq - this.entriesThrough() : 0;
    const ed = this.entriesDeadlineMs();
    const next = [f.next, ed].filter((x): x is number => x !== null);
    return { entries, files: f.files, bytes: f.bytes, nextDeadlineMs: next.length ? Math.min(...next) : null };
  }
}
