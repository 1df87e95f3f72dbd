/**
 * Storing a device's ledger entries: each line is checked (form, device, link to the one before, certificate,
 * signature) before it is appended to `<store>/<d>/ledger.jsonl`. Lines ahead of a gap wait in receiver.db. The
 * append, the bookkeeping, head.json and the receipt happen under SQLite's write lock, so receivers sharing a
 * store append one device's lines in order and a crash leaves either all of it or a torn tail that is cut off.
 */
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { prepared, type Db } from '../state/db.js';
import { GENESIS_PREV, lineHash, parseLine, splitSignature, type LedgerEntry } from '../evidence/entry.js';
import { verifySignature, type Signer } from '../evidence/signer.js';
import { ENTRY } from '../evidence/types.js';
import { HEAD_FILE, LEDGER_FILE, SEGMENTS_DIR, encodeHead, makeHead } from '../evidence/head.js';
import { checkCertBody, checkManifest } from '../verify/bodies.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/ca.js';
import { makeReceipt, type EntriesReceipt } from '../evidence/receipt.js';
import { writeFileAtomicSync, fsyncDirSync } from '../util/fsx.js';
import type { Logger } from '../util/log.js';
import type { DeviceLimits } from './limits.js';
import { appendReceipt } from './receipts-file.js';
import { durably } from './store-db.js';
import type { LeafLog } from './agency-log.js';

export interface EntriesOutcome {
  appended: number;
  /** The receipt for what is now stored, when anything was appended. */
  receipt?: EntriesReceipt;
  /** Why a line was refused (nothing after it was stored). */
  refused?: string;
  /** Segment names whose manifests were just stored. */
  manifests: string[];
}

interface DeviceRow {
  device: string;
  seq: number;
  hash: string;
  cert: string;
  ledger_bytes: number;
}

export class LedgerIngest {
  private limits: DeviceLimits | undefined;

  constructor(
    private readonly store: string,
    private readonly db: Db,
    private readonly caPems: string[],
    private readonly signer: Signer,
    private readonly receiverName: string,
    private readonly log: Logger,
    private readonly agencyLog: LeafLog,
  ) {}

  /** Hold lines ahead of a gap only within the device's limits (limits.ts); without, none are refused. */
  useLimits(limits: DeviceLimits): void {
    this.limits = limits;
  }

  deviceState(device: string): { seq: number; hash: string } | null {
    const r = prepared(this.db, 'SELECT seq, hash FROM devices WHERE device = ?').get(device) as { seq: number; hash: string } | undefined;
    return r ?? null;
  }

  lastReceipt(device: string): EntriesReceipt | undefined {
    const r = prepared(this.db, 'SELECT entries_receipt AS r FROM devices WHERE device = ?').get(device) as { r: string | null } | undefined;
    return r?.r ? (JSON.parse(r.r) as EntriesReceipt) : undefined;
  }

  ingest(device: string, lines: string[], deadline: string, now: Date): EntriesOutcome {
    this.hold(device, lines);
    return durably(this.db, () => this.appendHeld(device, deadline, now));
  }

  /**
   * Put new lines aside (ignoring duplicates of stored ones, logging conflicting ones, refusing what is over the
   * device's limits). A line replaces one held at its seq: a resend must be able to replace junk held there.
   */
  private hold(device: string, lines: string[]): void {
    const stored = this.deviceState(device);
    const known = prepared(this.db, 'SELECT hash FROM entries WHERE device = ? AND seq = ?');
    const put = prepared(this.db, 'INSERT INTO held(device, seq, line) VALUES (?, ?, ?) ON CONFLICT(device, seq) DO UPDATE SET line = excluded.line');
    const gate = this.limits?.heldGate(device, stored ? stored.seq : -1);
    for (const line of lines) {
      const p = parseLine(line);
      if (!p.ok) {
        this.log.warn('refused a ledger line that does not parse', { device, problem: p.error });
        continue;
      }
      if (p.entry.device !== device) {
        this.log.warn('refused a ledger line naming another device', { device, named: p.entry.device, seq: p.entry.seq });
        continue;
      }
      if (stored && p.entry.seq <= stored.seq) {
        const k = known.get(device, p.entry.seq) as { hash: string } | undefined;
        if (k && k.hash !== lineHash(line)) this.log.error('refused a line that conflicts with a stored entry (same seq, different content)', { device, seq: p.entry.seq });
        continue;
      }
      if (gate && !gate.admit(p.entry.seq, Buffer.byteLength(line))) continue;
      put.run(device, p.entry.seq, line);
    }
    const over = gate?.refused();
    if (over) this.log.warn('refused out-of-order ledger lines instead of holding them', { device, ...over });
  }

  /** Inside the write lock: append every held line that continues the stored chain and passes the checks. */
  private appendHeld(device: string, deadline: string, now: Date): EntriesOutcome {
    const row = prepared(this.db, 'SELECT * FROM devices WHERE device = ?').get(device) as DeviceRow | undefined;
    let seq = row ? row.seq : -1;
    let hash = row ? row.hash : GENESIS_PREV;
    let cert = row?.cert;
    const next = prepared(this.db, 'SELECT line FROM held WHERE device = ? AND seq = ?');
    const drop = prepared(this.db, 'DELETE FROM held WHERE device = ? AND seq = ?');
    const ok: { line: string; e: LedgerEntry; hash: string }[] = [];
    let refused: string | undefined;
    for (;;) {
      const h = next.get(device, seq + 1) as { line: string } | undefined;
      if (!h) break;
      drop.run(device, seq + 1);
      const p = parseLine(h.line);
      const problem = p.ok ? this.lineProblem(device, p.entry, h.line, seq, hash, cert) : p.error;
      if (problem || !p.ok) {
        refused = `entry ${seq + 1}: ${problem}`;
        this.log.error('refused a ledger entry; nothing after it is stored until a valid one comes', { device, problem: refused });
        break;
      }
      if (p.entry.type === ENTRY.ledgerOpened || p.entry.type === ENTRY.certificateInstalled) cert = p.entry.body.cert as string;
      seq = p.entry.seq;
      hash = lineHash(h.line);
      ok.push({ line: h.line, e: p.entry, hash });
    }
    if (ok.length === 0) return { appended: 0, manifests: [], ...(refused ? { refused } : {}) };

    const dir = join(this.store, device);
    const bytes = this.appendLines(dir, row?.ledger_bytes ?? 0, ok.map((o) => o.line));
    const addEntry = prepared(this.db, 'INSERT OR REPLACE INTO entries(device, seq, hash) VALUES (?, ?, ?)');
    const addManifest = prepared(this.db, 'INSERT OR REPLACE INTO manifests(device, name, seq, size, sha256) VALUES (?, ?, ?, ?, ?)');
    const manifests: string[] = [];
    for (const o of ok) {
      addEntry.run(device, o.e.seq, o.hash);
      if (o.e.type === ENTRY.segmentSealed && !checkManifest(o.e.body)) {
        const stored = o.e.body.stored as { size: number; sha256: string };
        addManifest.run(device, o.e.body.segment as string, o.e.seq, stored.size, stored.sha256);
        manifests.push(o.e.body.segment as string);
      }
    }
    // Every stored entry goes into the agency's log, stamped with this receiver's clock; the receipt proves the last.
    const storedAt = now.toISOString();
    const logged = this.agencyLog.append(ok.map((o) => ({ v: 1, kind: 'entry', device, seq: o.e.seq, hash: o.hash, accepted: storedAt })));
    const receipt = makeReceipt(
      {
        kind: 'entries',
        device,
        through: { seq, hash },
        deadline,
        storedAt,
        receiver: this.receiverName,
        log: this.agencyLog.proof(logged.size - 1, logged.size, logged.checkpoint),
      },
      this.signer,
    ) as EntriesReceipt;
    this.db
      .prepare(
        `INSERT INTO devices(device, seq, hash, cert, ledger_bytes, entries_receipt) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, cert = excluded.cert,
           ledger_bytes = excluded.ledger_bytes, entries_receipt = excluded.entries_receipt`,
      )
      .run(device, seq, hash, cert!, bytes, JSON.stringify(receipt));
    const head = makeHead({ device, seq, hash, time: now.toISOString(), signer: 'agency' }, this.signer);
    writeFileAtomicSync(join(dir, HEAD_FILE), encodeHead(head));
    appendReceipt(dir, receipt);
    return { appended: ok.length, receipt, manifests, ...(refused ? { refused } : {}) };
  }

  private lineProblem(device: string, e: LedgerEntry, line: string, seq: number, prevHash: string, cert: string | undefined): string | undefined {
    if (e.seq !== seq + 1) return `has seq ${e.seq} where ${seq + 1} was expected`;
    if (e.prev !== prevHash) return 'does not link to the entry before it (prev hash differs)';
    if (seq === -1 && e.type !== ENTRY.ledgerOpened) return 'the first entry is not ledger.opened';
    let key: KeyObject | undefined;
    if (e.type === ENTRY.ledgerOpened || e.type === ENTRY.certificateInstalled) {
      const bad = checkCertBody(e.body);
      if (bad) return bad;
      const problems = checkCertificate(e.body.cert as string, this.caPems, { at: new Date(e.time), commonName: device, role: ROLE_DEVICE });
      if (problems.length > 0) return `the device certificate is refused: ${problems.map((p) => p.detail).join('; ')}`;
      key = parseCertificate(e.body.cert as string)?.publicKey;
    } else {
      key = cert ? parseCertificate(cert)?.publicKey : undefined;
    }
    if (!key) return 'no certificate vouches for it';
    const parts = splitSignature(line);
    if (!parts || !verifySignature(Buffer.from(parts.signed, 'utf8'), parts.sig, key)) return `the signature of this ${e.type} entry does not verify with the device certificate`;
    return undefined;
  }

  /** Cut any torn tail past the committed length, append, fsync; returns the new committed length. */
  private appendLines(dir: string, committed: number, lines: string[]): number {
    if (committed === 0) {
      mkdirSync(join(dir, SEGMENTS_DIR), { recursive: true });
      fsyncDirSync(dir);
    }
    const fd = openSync(join(dir, LEDGER_FILE), constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      ftruncateSync(fd, committed);
      const buf = Buffer.from(lines.join('\n') + '\n', 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, committed + off);
      fsyncSync(fd);
      return committed + buf.length;
    } finally {
      closeSync(fd);
    }
  }
}
