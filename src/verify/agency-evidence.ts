/**
 * What the agency signed about a store, held against what the store's files say (evidence-format.md §10.2): the
 * receipts in each device's `receipts.jsonl` and the agency log's leaves. Whoever holds a device key can re-sign a
 * ledger, but not the receipts or the log: a receipted or logged entry that is gone or different is
 * `receipt-contradicted`, a ledger shorter than what the agency holds is `rollback`, and an entry in a receiver store
 * the log never took is `unlogged`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { receiptProblem, type Receipt } from '../evidence/receipt.js';
import { LOG_DIR, SUPERSEDED_DIR, encodeLeaf, leafOfReceipt } from '../evidence/log-leaf.js';
import { lineHash, type LedgerEntry } from '../evidence/entry.js';
import { ENTRY, type SegmentManifest } from '../evidence/types.js';
import { checkCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/roles.js';
import { leafHash, verifyInclusion } from '../tlog/merkle.js';
import { openCheckpoint, type WitnessKey } from '../tlog/checkpoint.js';
import { parseProof } from '../tlog/proof-text.js';
import { checkSm2Line, readLogKey, readLogView, type DeviceLog, type LogKey, type LogView } from './log-view.js';
import { LineIndex } from './line-index.js';
import type { FindingKind } from './findings.js';
import { describe } from '../util/errors.js';
import { hashHex, hashName } from '../evidence/segment-scheme.js';

import { RECEIPTS_FILE } from '../evidence/receipt.js';
/** The deviceId of findings about the agency log itself rather than one device. */
export const LOG_SUBJECT = '(agency log)';

type Report = (kind: FindingKind, detail: string) => void;

interface ReceiptLine {
  line: number;
  r: Receipt;
}

/** The genuine receipts of one device folder, as read from its receipts.jsonl. */
interface DeviceReceipts {
  present: boolean;
  lines: ReceiptLine[];
  /** Checkpoint sizes the receipts' log proofs refer to. */
  sizes: Set<number>;
}

export interface AgencyOptions {
  caPems: string[];
  witnesses?: WitnessKey[];
  /** A checkpoint the caller trusts (from a witness or a gateway): the store's log must agree with it. */
  trustedCheckpoint?: string;
}

export interface LogSummary {
  origin: string;
  size: number;
  root: string;
  /** Witnesses (of those given) whose cosignatures verified, on the checkpoint of `witnessedSize` leaves. */
  witnesses: { name: string; time: string }[];
  witnessedSize?: number;
  /** The trusted checkpoint given, when the log agreed with it. */
  anchoredTo?: { size: number; root: string };
  /** A gm log: the SM2 signature on its current checkpoint that verified, by key ID, and the certificate that vouches for it. */
  sm2?: { keyId: string; certificate: string };
}

/** The agency's evidence for a whole store: its log (if any) and every device folder's receipts. */
export class AgencyEvidence {
  private constructor(
    readonly log: LogView | undefined,
    private readonly logKey: LogKey | undefined,
    private readonly receipts: Map<string, DeviceReceipts>,
    private readonly opts: AgencyOptions,
    readonly summary: LogSummary | undefined,
  ) {}

  /**
   * Read the receipts of every device folder and the store's log. `storeDir` is the folder given to the verifier:
   * the log is `<storeDir>/log`, or beside a single device folder given on its own.
   */
  static load(storeDir: string, deviceDirs: string[], opts: AgencyOptions, report: (deviceId: string, kind: FindingKind, detail: string) => void): AgencyEvidence {
    const receipts = new Map<string, DeviceReceipts>();
    const sizes = new Set<number>();
    for (const d of deviceDirs) {
      const r = readReceipts(d, opts.caPems, (kind, detail) => report(basename(d), kind, detail));
      receipts.set(d, r);
      for (const s of r.sizes) sizes.add(s);
    }
    const logDir = [join(storeDir, LOG_DIR), join(dirname(storeDir), LOG_DIR)].find((p) => existsSync(p));
    const logProblem = (detail: string): void => report(LOG_SUBJECT, 'bad-log', detail);
    const sm2Problem = (detail: string): void => report(LOG_SUBJECT, 'bad-log-sm2', detail);
    let view: LogView | undefined;
    let key: LogKey | undefined;
    const trusted = opts.trustedCheckpoint;
    if (logDir) {
      key = readLogKey(logDir, opts.caPems, () => undefined);
      let trustedSize: number | undefined;
      if (trusted && key) {
        const t = openCheckpoint(trusted, key.origin, key.key);
        if ('why' in t) logProblem(`the checkpoint given to check the store against is not one of this log: ${t.why}`);
        else {
          trustedSize = t.size;
          // One from before the log signed with SM2 has no SM2 line; a failing one was not made by the log.
          checkSm2Line(key, t, 'the checkpoint given to check the store against', false, sm2Problem);
        }
      }
      view = readLogView(logDir, opts.caPems, opts.witnesses ?? [], trustedSize === undefined ? sizes : new Set([...sizes, trustedSize]), logProblem, sm2Problem);
    } else if (trusted) {
      logProblem('a checkpoint was given to check the store against, but the store has no agency log (log/): it was removed, or this is not a receiver store');
    } else if ([...receipts.values()].some((r) => r.lines.some((l) => l.r.log !== undefined))) {
      logProblem('the receipts carry proofs of the agency log, but the store has no log folder: it was removed');
    }
    let summary: LogSummary | undefined;
    if (view) {
      summary = {
        origin: view.origin,
        size: view.size,
        root: view.root.toString('base64'),
        witnesses: view.cosigned.map((c) => ({ name: c.name, time: new Date(c.time * 1000).toISOString() })),
        ...(view.cosignedSize !== undefined ? { witnessedSize: view.cosignedSize } : {}),
        ...(view.sm2 ? { sm2: view.sm2 } : {}),
      };
      if (trusted && key) {
        const t = openCheckpoint(trusted, key.origin, key.key);
        if (!('why' in t)) {
          const got = view.rootsAt.get(t.size);
          if (t.size > view.size) logProblem(`the trusted checkpoint has ${t.size} leaves, but the store's log only ${view.size}: the log was cut back`);
          else if (!got || !got.equals(t.root)) logProblem(`the store's log at ${t.size} leaves does not have the root of the trusted checkpoint: the log was rewritten`);
          else summary.anchoredTo = { size: t.size, root: t.root.toString('base64') };
        }
      }
    }
    return new AgencyEvidence(view, key, receipts, opts, summary);
  }

  /** The device IDs the log names: each must have its folder in the store. */
  loggedDevices(): string[] {
    return this.log ? [...this.log.devices.keys()].sort() : [];
  }

  /** The checks for one device folder. */
  forDevice(dir: string, report: Report): DeviceAgencyCheck {
    return new DeviceAgencyCheck(dir, this.receipts.get(dir) ?? { present: false, lines: [], sizes: new Set() }, this.log, this.logKey, this.opts.caPems, report);
  }
}

function readReceipts(dir: string, caPems: string[], report: Report): DeviceReceipts {
  const path = join(dir, RECEIPTS_FILE);
  const out: DeviceReceipts = { present: existsSync(path), lines: [], sizes: new Set() };
  if (!out.present) return out;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    // A directory or an unreadable file where the receipts belong: the folder still claims the agency's word.
    report('malformed', `${RECEIPTS_FILE} cannot be read (${describe(err)}): the agency's receipts for this device are not there to check`);
    return out;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    let r: unknown;
    try {
      r = JSON.parse(raw);
    } catch {
      return report('malformed', `${RECEIPTS_FILE} line ${line} is not JSON`);
    }
    const problem = receiptProblem(r, caPems);
    if (problem) return report('bad-receipt', `${RECEIPTS_FILE} line ${line} is not a genuine agency receipt: ${problem}`);
    const rec = r as Receipt;
    out.lines.push({ line, r: rec });
    if (rec.log !== undefined) {
      const p = parseProof(rec.log);
      if (!('why' in p)) {
        const size = /\n(0|[1-9][0-9]*)\n/.exec(p.checkpoint)?.[1];
        if (size !== undefined) out.sizes.add(Number(size));
      }
    }
  });
  return out;
}

/**
 * One device folder against the agency's evidence. Fed each ledger entry as the ledger is read (`entry`), then
 * `finish` with what the ledger held.
 */
export class DeviceAgencyCheck {
  /** Entries receipts' claims, by seq: the hash the agency stored there. */
  private readonly entryClaims = new Map<number, { hash: string; line: number; device: string }[]>();
  /** Segment receipts' claims, by manifest seq. */
  private readonly segmentClaims = new Map<number, { r: Receipt & { kind: 'segment' }; line: number }[]>();
  private deviceLog: DeviceLog | undefined;
  private deviceId: string | undefined;
  private lastSeq = -1;
  /** Segment names the ledger's manifests describe, as digests (memory flat), only where the log names segments. */
  private readonly sealed = new LineIndex('names');

  constructor(
    private readonly dir: string,
    private readonly receipts: DeviceReceipts,
    private readonly log: LogView | undefined,
    private readonly logKey: LogKey | undefined,
    private readonly caPems: string[],
    private readonly report: Report,
  ) {
    for (const { line, r } of receipts.lines) {
      if (r.kind === 'entries') push(this.entryClaims, r.through.seq, { hash: r.through.hash, line, device: r.device });
      else push(this.segmentClaims, r.manifestSeq, { r, line });
    }
  }

  /**
   * Whether the agency vouches for this folder at all (§10.2: it has receipts, or the store has the agency's log):
   * then its head must be the agency's, and the rest holds. Also when its ledger is empty or unreadable: a device
   * head there must not pass for the agency's either.
   */
  get isReceiverStore(): boolean {
    return this.receipts.present || this.log !== undefined;
  }

  /**
   * The retention deletion events the agency log holds for this device (hash of the line -> accepted), once its
   * ledger was read; undefined when the store has no log to hold them.
   */
  get loggedDeletions(): ReadonlyMap<string, string> | undefined {
    return this.log ? (this.deviceLog?.deletions ?? new Map<string, string>()) : undefined;
  }

  entry(lineNo: number, e: LedgerEntry, hash: string): void {
    if (this.deviceId === undefined) {
      this.deviceId = e.device;
      this.deviceLog = this.log?.devices.get(e.device);
      // A genuine receipt of another device (bad-receipt in finish) says nothing about this ledger.
      keepDevice(this.entryClaims, e.device, (c) => c.device);
      keepDevice(this.segmentClaims, e.device, (c) => c.r.device);
    }
    if (e.device !== this.deviceId) return;
    this.lastSeq = Math.max(this.lastSeq, e.seq);
    for (const c of this.entryClaims.get(e.seq) ?? []) {
      if (c.hash !== hash && !this.deviceLog?.wasSuperseded(e.seq, c.hash)) this.report('receipt-contradicted', `line ${lineNo}: the agency's receipt (${RECEIPTS_FILE} line ${c.line}) stored a different entry ${e.seq}: the ledger was rewritten from there`);
    }
    if (this.log) {
      const logged = this.deviceLog?.hashHex(e.seq);
      if (logged === undefined) this.report('unlogged', `line ${lineNo}: entry ${e.seq} (${e.type}) is not in the agency log: the agency never accepted it`);
      else if (logged !== hash) this.report('receipt-contradicted', `line ${lineNo}: the agency log holds a different entry ${e.seq}: the ledger was rewritten from there`);
      else this.checkAccepted(lineNo, e);
    }
    if (e.type === ENTRY.segmentSealed) this.manifest(lineNo, e.seq, e.body as unknown as SegmentManifest);
  }

  /** A certificate entry must have been valid when the agency accepted it, not only at the time it claims. */
  private checkAccepted(lineNo: number, e: LedgerEntry): void {
    if (e.type !== ENTRY.ledgerOpened && e.type !== ENTRY.certificateInstalled) return;
    const at = this.deviceLog?.acceptedAt(e.seq);
    if (at === undefined || typeof e.body.cert !== 'string') return;
    const problems = checkCertificate(e.body.cert, this.caPems, { at: new Date(at), role: ROLE_DEVICE, commonName: e.device });
    for (const p of problems) {
      this.report('untrusted-certificate', `line ${lineNo}: when the agency accepted this ${e.type} entry (${new Date(at).toISOString()}): ${p.detail}`);
    }
  }

  private manifest(lineNo: number, seq: number, m: SegmentManifest): void {
    if (typeof m.segment !== 'string' || typeof m.stored !== 'object' || m.stored === null) return;
    if (this.deviceLog && this.deviceLog.segments.size > 0) this.sealed.add(m.segment);
    for (const c of this.segmentClaims.get(seq) ?? []) {
      const aside = this.deviceLog?.superseded.some((b) => b.segments.some((s) => s.name === c.r.name && s.sha256 === c.r.sha256 && s.manifestSeq === seq));
      if (!aside && (c.r.name !== m.segment || c.r.size !== m.stored.size || c.r.sha256 !== hashHex(m.stored))) {
        this.report('receipt-contradicted', `line ${lineNo}: the agency's receipt (${RECEIPTS_FILE} line ${c.line}) stored ${c.r.name} (${c.r.size} bytes, SHA-256 ${c.r.sha256}) for this manifest, which now says ${m.segment} (${m.stored.size} bytes, ${hashName(m.stored)} ${hashHex(m.stored)})`);
      }
    }
    const leaf = this.deviceLog?.segments.get(m.segment);
    if (leaf && (leaf.manifestSeq !== seq || leaf.size !== m.stored.size || leaf.sha256 !== hashHex(m.stored))) {
      this.report('receipt-contradicted', `line ${lineNo}: the agency log holds ${m.segment} as ${leaf.size} bytes, SHA-256 ${leaf.sha256}, manifest entry ${leaf.manifestSeq}; the ledger says otherwise`);
    }
  }

  /** After the ledger: what the agency holds that the ledger no longer has, and the receipts' own log proofs. */
  finish(): void {
    const id = this.deviceId;
    // Receipts for entries of a branch the log says was superseded (§5.6) vouch for that branch, kept aside.
    const aside = (seq: number, hash: string): boolean => this.deviceLog?.wasSuperseded(seq, hash) ?? false;
    const segAside = (r: Receipt & { kind: 'segment' }): boolean =>
      this.deviceLog?.superseded.some((b) => b.segments.some((s) => s.name === r.name && s.sha256 === r.sha256 && s.manifestSeq === r.manifestSeq)) ?? false;
    let claimed = -1;
    for (const [k, cs] of this.entryClaims) if (cs.some((c) => !aside(k, c.hash))) claimed = Math.max(claimed, k);
    for (const [k, cs] of this.segmentClaims) if (cs.some((c) => !segAside(c.r))) claimed = Math.max(claimed, k);
    if (claimed > this.lastSeq) {
      this.report('rollback', `the agency receipted entries up to seq ${claimed}, but the ledger ends at seq ${this.lastSeq}: entries were removed`);
    }
    if (this.deviceLog && this.deviceLog.count - 1 > this.lastSeq) {
      this.report('rollback', `the agency log holds entries up to seq ${this.deviceLog.count - 1}, but the ledger ends at seq ${this.lastSeq}: entries were removed`);
    }
    for (const [name, leaf] of this.deviceLog?.segments ?? []) {
      if (!this.sealed.has(name) && leaf.manifestSeq <= this.lastSeq) {
        this.report('receipt-contradicted', `the agency log holds sealed file ${name} (manifest entry ${leaf.manifestSeq}), which no segment.sealed entry of the ledger describes`);
      }
    }
    for (const b of this.deviceLog?.superseded ?? []) this.checkAside(b);
    for (const { line, r } of this.receipts.lines) {
      if (id !== undefined && r.device !== id) this.report('bad-receipt', `${RECEIPTS_FILE} line ${line} is a receipt for device ${r.device}, not ${id}`);
      else this.checkProof(line, r);
    }
  }

  /** What a superseded branch the log records: its lines must be kept aside, unchanged, in the device folder. */
  private checkAside(b: NonNullable<DeviceLog['superseded']>[number]): void {
    const folder = join(SUPERSEDED_DIR, `${b.leaf.from}-${b.leaf.hash.slice(0, 12)}`);
    this.supersededReport.push({ from: b.leaf.from, through: b.leaf.through, accepted: b.leaf.accepted, folder });
    let lines: string[];
    try {
      lines = readFileSync(join(this.dir, folder, 'ledger.jsonl'), 'utf8').trimEnd().split('\n');
    } catch {
      return this.report('rollback', `the agency log says entries ${b.leaf.from} to ${b.leaf.through} were superseded on ${b.leaf.accepted} and kept in ${folder}, which is missing`);
    }
    lines.forEach((l, i) => {
      const seq = b.leaf.from + i;
      if (b.hashes.get(seq) !== lineHash(l)) this.report('receipt-contradicted', `${folder}/ledger.jsonl line ${i + 1} is not the superseded entry ${seq} the agency logged`);
    });
    if (lines.length !== b.hashes.size) this.report('rollback', `${folder}/ledger.jsonl holds ${lines.length} superseded entries; the agency log recorded ${b.hashes.size}`);
  }

  /** Superseded branches seen, for the device report. */
  readonly supersededReport: { from: number; through: number; accepted: string; folder: string }[] = [];

  /** A receipt's tlog-proof: its checkpoint is the log's, it includes the receipt's leaf, and the store's log agrees. */
  private checkProof(line: number, r: Receipt): void {
    if (r.log === undefined || !this.logKey || !this.log) return;
    const where = `${RECEIPTS_FILE} line ${line}`;
    const p = parseProof(r.log);
    if ('why' in p) return this.report('bad-receipt', `${where}: its log proof is not a tlog-proof (${p.why})`);
    const cp = openCheckpoint(p.checkpoint, this.logKey.origin, this.logKey.key);
    if ('why' in cp) return this.report('bad-receipt', `${where}: the checkpoint in its log proof is not the agency log's (${cp.why})`);
    // Receipts from before the SM2 line carry none: only one that fails is a finding.
    checkSm2Line(this.logKey, cp, `${where}: the checkpoint in its log proof`, false, (d) => this.report('bad-log-sm2', d));
    if (!verifyInclusion(leafHash(encodeLeaf(leafOfReceipt(r))), p.index, cp.size, p.hashes, cp.root)) {
      return this.report('bad-receipt', `${where}: its log proof does not show the receipt's item in the agency log`);
    }
    const root = this.log.rootsAt.get(cp.size);
    if (cp.size > this.log.size) this.report('rollback', `${where}: the agency log had ${cp.size} leaves when it issued this receipt; the store's log has only ${this.log.size}`);
    else if (root && !root.equals(cp.root)) this.report('bad-log', `${where}: the store's log at ${cp.size} leaves differs from the log the receipt was issued from: the log was rewritten`);
  }
}

function keepDevice<V>(m: Map<number, V[]>, device: string, deviceOf: (v: V) => string): void {
  for (const [k, vs] of m) {
    const mine = vs.filter((v) => deviceOf(v) === device);
    if (mine.length > 0) m.set(k, mine);
    else m.delete(k);
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
