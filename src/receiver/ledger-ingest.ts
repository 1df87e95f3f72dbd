/**
 * Storing a device's ledger entries: each line is checked (form, device, link to the one before, certificate,
 * signature) before it is appended to `<store>/<d>/ledger.jsonl`. Lines ahead of a gap wait in the receivers'
 * database. The append, the bookkeeping, head.json and the receipt happen in one transaction holding the device's
 * lock (receiver-sql.ts), so receivers sharing a store append one device's lines in order and a crash leaves either
 * all of it or a torn tail that is cut off.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { GENESIS_PREV, lineHash, lineSignedBy, parseLine, type LedgerEntry } from '../evidence/entry.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import type { Signer } from '../evidence/signer.js';
import { ENTRY } from '../evidence/types.js';
import { HEAD_FILE, LEDGER_FILE, encodeHead, makeHead } from '../evidence/head.js';
import { checkCertBody, checkManifest } from '../verify/bodies.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/ca.js';
import { RECEIPTS_FILE, encodeReceipt, makeReceipt, type EntriesReceipt } from '../evidence/receipt.js';
import { SUPERSEDED_DIR } from '../evidence/log-leaf.js';
import type { EvidenceStore } from '../store/store.js';
import { storePlace, type StorePlace } from './store-place.js';
import type { Logger } from '../util/log.js';
import type { DeviceLimits } from './limits.js';
import { Filing, stage } from './filing.js';
import { one, type Queryable, type ReceiverSql } from './receiver-sql.js';
import type { LeafLog } from './agency-log.js';
import { keyProblem, type Clock } from './key-rules.js';
import { recoverSupersessions, supersede } from './supersede.js';
import { Revocations } from '../pki/crl.js';
import type { CurrentEncryptionKeys } from './encryption-keys.js';
import { hashHex } from '../evidence/segment-scheme.js';
import type { HashedSize } from '../evidence/types.js';

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
  /** The ledger's clock (key-rules.ts): the reference time and the high-water time, ms; null before any entry. */
  time_ref: number | null;
  time_max: number | null;
}

export class LedgerIngest {
  private limits: DeviceLimits | undefined;
  private revocations: () => Revocations = () => Revocations.none();
  private readonly filing: Filing;
  private readonly place: StorePlace;
  private readonly evidence: EvidenceStore;

  constructor(
    place: string | StorePlace,
    private readonly sql: ReceiverSql,
    private readonly caPems: string[],
    private readonly signer: Signer,
    private readonly receiverName: string,
    private readonly log: Logger,
    private readonly agencyLog: LeafLog,
    private readonly encryption: CurrentEncryptionKeys,
    filing?: Filing,
  ) {
    this.place = storePlace(place);
    this.evidence = this.place.evidence;
    // The receiver's own, shared with FileIngest, so that a device's receipts are filed together (filing.ts).
    this.filing = filing ?? new Filing(this.evidence, sql);
  }

  /** The agency CA's revocations, as they stand when each message is handled (the receiver reloads its CRL). */
  useRevocations(current: () => Revocations): void {
    this.revocations = current;
  }

  /** Hold lines ahead of a gap only within the device's limits (limits.ts); without, none are refused. */
  useLimits(limits: DeviceLimits): void {
    this.limits = limits;
  }

  async deviceState(device: string, q: Queryable = this.sql): Promise<{ seq: number; hash: string } | null> {
    return (await one<{ seq: number; hash: string }>(q, 'SELECT seq, hash FROM devices WHERE device = $1', [device])) ?? null;
  }

  async lastReceipt(device: string): Promise<EntriesReceipt | undefined> {
    const r = await one<{ r: string | null }>(this.sql, 'SELECT entries_receipt AS r FROM devices WHERE device = $1', [device]);
    return r?.r ? (JSON.parse(r.r) as EntriesReceipt) : undefined;
  }

  /** In one durable transaction holding the device's lock: receivers sharing the store append its lines in order. */
  async ingest(device: string, lines: string[], deadline: string, now: Date): Promise<EntriesOutcome> {
    let superseded = false;
    const out = await this.sql.transaction(async (tx) => {
      await this.recover(tx, device);
      const challenger = await this.hold(tx, device, lines);
      if (challenger.length > 0) superseded = await this.settle(tx, device, challenger, now);
      return this.appendHeld(tx, device, deadline, now);
    }, { device, durable: true });
    // Committed: the supersession's undo record has served.
    if (superseded) await this.sql.transaction((tx) => this.recover(tx, device), { device });
    // Its segments' receipts follow (the manifests go before their files): filed with the first of them if it comes soon.
    if (out.receipt) await this.filing.file(device, out.manifests.length > 0);
    return out;
  }

  /** At start: settle what supersessions of receivers killed mid-way left in device folders (supersede.ts). */
  async recoverAll(): Promise<void> {
    // Only a folder store supersedes (supersede.ts); a bucket has nothing to put back.
    const folder = this.place.folder;
    if (folder === undefined) return;
    const devices = existsSync(folder) ? readdirSync(folder).filter((d) => existsSync(join(folder, d, SUPERSEDED_DIR))) : [];
    for (const device of devices) await this.sql.transaction((tx) => this.recover(tx, device), { device, durable: true });
  }

  private async recover(tx: Queryable, device: string): Promise<void> {
    if (this.place.folder === undefined) return;
    const undone = await recoverSupersessions(this.place.folder, device, tx);
    if (undone > 0) this.log.warn('put back a supersession a receiver was stopped in before it committed; the stored ledger stands until the newer branch comes again', { device, undone });
  }

  /**
   * Lines in conflict with stored entries, from the first conflict on: they supersede the stored branch when they
   * may (supersede.ts), and are then held to be stored in its place; otherwise they are refused.
   */
  private async settle(tx: Queryable, device: string, branch: { line: string; entry: LedgerEntry }[], now: Date): Promise<boolean> {
    const stored = await this.deviceState(device, tx);
    const e = branch[0]!.entry;
    if (!stored || e.seq > stored.seq) return false;
    const r = await supersede({ store: this.place.folder, work: this.place.work, tx, caPems: this.caPems, revocations: this.revocations(), log: this.agencyLog, now }, device, branch, stored.seq);
    if ('why' in r) {
      this.log.error('refused lines that conflict with stored entries (same seq, different content)', { device, seq: e.seq, why: r.why });
      return false;
    }
    const b = r.before;
    await tx.query('UPDATE devices SET seq = $1, hash = $2, cert = $3, ledger_bytes = $4, entries_receipt = NULL, time_ref = $5, time_max = $6 WHERE device = $7', [
      b.seq,
      b.hash,
      b.cert,
      b.bytes,
      b.clock.ref,
      b.clock.max,
      device,
    ]);
    for (const b of branch) await this.holdLine(tx, device, b.entry.seq, b.line);
    this.log.error('a newer certificate superseded the stored ledger: the entries from there were signed by an older key (stolen or replaced?). They are kept aside; investigate and revoke that key', {
      device,
      from: r.from,
      through: r.through,
      keptIn: `${device}/${r.folder}`,
    });
    return true;
  }

  private async holdLine(tx: Queryable, device: string, seq: number, line: string): Promise<void> {
    await tx.query('INSERT INTO held(device, seq, line) VALUES ($1, $2, $3) ON CONFLICT(device, seq) DO UPDATE SET line = excluded.line', [device, seq, line]);
  }

  /**
   * Put new lines aside (ignoring duplicates of stored ones, logging conflicting ones, refusing what is over the
   * device's limits). A line replaces one held at its seq: a resend must be able to replace junk held there.
   */
  private async hold(tx: Queryable, device: string, lines: string[]): Promise<{ line: string; entry: LedgerEntry }[]> {
    /** From the first line that conflicts with a stored one, every line of the message: a would-be new branch. */
    const challenger: { line: string; entry: LedgerEntry }[] = [];
    const stored = await this.deviceState(device, tx);
    const gate = await this.limits?.heldGate(device, stored ? stored.seq : -1, tx);
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
        const k = await one<{ hash: string }>(tx, 'SELECT hash FROM entries WHERE device = $1 AND seq = $2', [device, p.entry.seq]);
        if ((k && k.hash !== lineHash(line)) || challenger.length > 0) challenger.push({ line, entry: p.entry });
        continue;
      }
      if (challenger.length > 0) {
        challenger.push({ line, entry: p.entry });
        continue;
      }
      if (gate && !gate.admit(p.entry.seq, Buffer.byteLength(line))) continue;
      await this.holdLine(tx, device, p.entry.seq, line);
    }
    const over = gate?.refused();
    if (over) this.log.warn('refused out-of-order ledger lines instead of holding them', { device, ...over });
    return challenger;
  }

  /** Inside the write lock: append every held line that continues the stored chain and passes the checks. */
  private async appendHeld(tx: Queryable, device: string, deadline: string, now: Date): Promise<EntriesOutcome> {
    const row = await one<DeviceRow>(tx, 'SELECT * FROM devices WHERE device = $1', [device]);
    let seq = row ? row.seq : -1;
    let hash = row ? row.hash : GENESIS_PREV;
    let cert = row?.cert;
    const clock: Clock = { ref: row?.time_ref ?? -Infinity, max: row?.time_max ?? -Infinity };
    const rules = { caPems: this.caPems, revocations: this.revocations(), now };
    const ok: { line: string; e: LedgerEntry; hash: string }[] = [];
    let refused: string | undefined;
    for (;;) {
      const h = await one<{ line: string }>(tx, 'DELETE FROM held WHERE device = $1 AND seq = $2 RETURNING line', [device, seq + 1]);
      if (!h) break;
      const p = parseLine(h.line);
      const certAfter = p.ok && (p.entry.type === ENTRY.ledgerOpened || p.entry.type === ENTRY.certificateInstalled) ? (p.entry.body.cert as string) : cert;
      const problem = p.ok ? (this.lineProblem(device, p.entry, h.line, seq, hash, cert) ?? keyProblem(p.entry, certAfter, cert, clock, rules)) : p.error;
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

    const bytes = await this.appendLines(device, row?.ledger_bytes ?? 0, ok.map((o) => o.line));
    const manifests: string[] = [];
    for (const o of ok) {
      await tx.query('INSERT INTO entries(device, seq, hash) VALUES ($1, $2, $3) ON CONFLICT(device, seq) DO UPDATE SET hash = excluded.hash', [device, o.e.seq, o.hash]);
      if (o.e.type === ENTRY.segmentSealed && !checkManifest(o.e.body, o.e.suite)) {
        // The stored file's hash in the entry's suite (SM3 under gm): what the file that arrives must hash to.
        const stored = o.e.body.stored as HashedSize;
        await tx.query(
          'INSERT INTO manifests(device, name, seq, size, sha256, hash_alg) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(device, name) DO UPDATE SET seq = excluded.seq, size = excluded.size, sha256 = excluded.sha256, hash_alg = excluded.hash_alg',
          [device, o.e.body.segment as string, o.e.seq, stored.size, hashHex(stored), 'sm3' in stored ? 'sm3' : 'sha256'],
        );
        manifests.push(o.e.body.segment as string);
      }
    }
    // Signed before the append: from the append to the commit, the log's lock holds every receiver's appends up.
    const head = makeHead({ device, seq, hash, time: now.toISOString(), signer: 'agency' }, this.signer);
    // Every stored entry goes into the agency's log, stamped with this receiver's clock; the receipt proves the last.
    const storedAt = now.toISOString();
    const logged = await this.agencyLog.append(tx, ok.map((o) => ({ v: 1, kind: 'entry', device, seq: o.e.seq, hash: o.hash, accepted: storedAt })));
    const receipt = makeReceipt(
      {
        kind: 'entries',
        device,
        through: { seq, hash },
        deadline,
        storedAt,
        receiver: this.receiverName,
        log: logged.proof,
      },
      this.signer,
    ) as EntriesReceipt;
    await tx.query(
      `INSERT INTO devices(device, seq, hash, cert, ledger_bytes, entries_receipt, time_ref, time_max) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT(device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, cert = excluded.cert,
         ledger_bytes = excluded.ledger_bytes, entries_receipt = excluded.entries_receipt,
         time_ref = excluded.time_ref, time_max = excluded.time_max`,
      [device, seq, hash, cert!, bytes, JSON.stringify(receipt), clock.ref, clock.max],
    );
    await stage(tx, device, HEAD_FILE, encodeHead(head), 'replace');
    await stage(tx, device, RECEIPTS_FILE, encodeReceipt(receipt));
    return { appended: ok.length, receipt, manifests, ...(refused ? { refused } : {}) };
  }

  private lineProblem(device: string, e: LedgerEntry, line: string, seq: number, prevHash: string, cert: string | undefined): string | undefined {
    if (e.seq !== seq + 1) return `has seq ${e.seq} where ${seq + 1} was expected`;
    if (e.prev !== prevHash) return 'does not link to the entry before it (prev hash differs)';
    if (seq === -1 && e.type !== ENTRY.ledgerOpened) return 'the first entry is not ledger.opened';
    if (seq !== -1 && e.type === ENTRY.ledgerOpened) return 'a second ledger.opened entry: a ledger has one genesis entry';
    let key: KeyObject | undefined;
    const switched = suiteSwitchProblem(e, cert);
    if (switched) return switched;
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
    if (!lineSignedBy(line, key)) return `the signature of this ${e.type} entry does not verify with the device certificate`;
    return this.encryption.problem(e);
  }

  /** Cut any torn tail past the committed length, append, make it durable; returns the new committed length. */
  private async appendLines(device: string, committed: number, lines: string[]): Promise<number> {
    const buf = Buffer.from(lines.join('\n') + '\n', 'utf8');
    await this.evidence.append(`${device}/${LEDGER_FILE}`, committed, buf);
    return committed + buf.length;
  }
}

/**
 * A ledger keeps the suite of its certificate's key (an entry of the other suite does not verify with it, see
 * lineSignedBy) but for a rotation: a certificate.installed entry in the new suite naming the one it leaves in
 * suiteFrom (evidence-format.md §17.6). `cert`: the certificate in force before `e`.
 */
function suiteSwitchProblem(e: LedgerEntry, cert: string | undefined): string | undefined {
  const key = cert ? parseCertificate(cert)?.publicKey : undefined;
  if (!key) return undefined;
  const before = isSm2Key(key) ? 'gm' : 'intl';
  const suite = e.suite ?? 'intl';
  const from = e.type === ENTRY.certificateInstalled ? e.body.suiteFrom : undefined;
  if (suite !== before && from !== before) return `is in the ${suite} suite after entries in the ${before} suite, without a rotation (a certificate.installed entry with suiteFrom ${JSON.stringify(before)})`;
  if (from !== undefined && suite === before) return `names suiteFrom ${JSON.stringify(from)} but does not change the suite (${suite})`;
  return undefined;
}
