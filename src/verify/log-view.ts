/**
 * The verifier's reading of a store's agency log (`<store>/log/`, evidence-format.md §15): the log certificate
 * against the CA, the checkpoint's signature, every entry bundle and tile streamed once against the checkpoint's
 * root, witness cosignatures, and what the log says each device has: the hash of every ledger entry it accepted
 * (with the acceptance time) and every sealed file. Memory is a few dozen bytes per logged entry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { LOG_CERT_FILE, LOG_DIR, LOG_SM2_CERT_FILE, WITNESSED_FILE, parseLeaf, type SegmentLeaf, type SupersededLeaf } from '../evidence/log-leaf.js';
import { parseCertificate } from '../pki/certs.js';
import { checkLogCertificate } from '../pki/log-cert.js';
import { checkSm2Signature, keyIdHex } from '../tlog/sm2-note.js';
import { HASH_SIZE, StreamingRoot, leafHash } from '../tlog/merkle.js';
import { CHECKPOINT_FILE, TILE_WIDTH, decodeBundle, foldHashes, tilePath } from '../tlog/tiles.js';
import { checkCosignatures, openCheckpoint, type Cosigned, type SignedCheckpoint, type WitnessKey } from '../tlog/checkpoint.js';

/** Ledger entries of one device as the log has them: seq i at bytes [32i, 32i+32) of `hashes`. */
export class DeviceLog {
  private buf = Buffer.alloc(32 * 64);
  private acc = new Float64Array(64);
  count = 0;
  /** Sealed files the log holds, by segment name. */
  readonly segments = new Map<string, SegmentLeaf>();
  /** Retention deletion events the log holds (the SHA-256 of each deletions.jsonl line), with their acceptance. */
  readonly deletions = new Map<string, string>();
  /** Branches the log recorded as superseded (§5.6): their entries and files stay known, for receipts issued for them. */
  readonly superseded: { leaf: SupersededLeaf; hashes: Map<number, string>; segments: SegmentLeaf[] }[] = [];

  /** A superseded leaf: the entries from `from` on leave the device's line, and are kept aside. */
  supersede(index: number, l: SupersededLeaf, problem: LogProblem): void {
    if (l.from >= this.count || l.through !== this.count - 1 || this.hashHex(l.from) !== l.hash) {
      return problem(`log leaf ${index} supersedes entries ${l.from} to ${l.through} of ${l.device}, which are not the log's last entries of that device`);
    }
    const hashes = new Map<number, string>();
    for (let seq = l.from; seq < this.count; seq++) hashes.set(seq, this.hashHex(seq)!);
    const segments = [...this.segments.values()].filter((s) => s.manifestSeq >= l.from);
    for (const s of segments) this.segments.delete(s.name);
    this.superseded.push({ leaf: l, hashes, segments });
    this.count = l.from;
  }

  /** Whether a superseded branch held entry `seq` with `hash` (a receipt for it is then no contradiction). */
  wasSuperseded(seq: number, hash: string): boolean {
    return this.superseded.some((b) => b.hashes.get(seq) === hash);
  }

  push(hash: Buffer, accepted: number): void {
    if (this.count * 32 >= this.buf.length) {
      const b = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(b);
      this.buf = b;
      const a = new Float64Array(this.acc.length * 2);
      a.set(this.acc);
      this.acc = a;
    }
    hash.copy(this.buf, this.count * 32);
    this.acc[this.count] = accepted;
    this.count++;
  }

  hashHex(seq: number): string | undefined {
    return seq < this.count ? this.buf.toString('hex', seq * 32, seq * 32 + 32) : undefined;
  }

  /** The receiver's clock when it accepted entry `seq` (ms since the epoch). */
  acceptedAt(seq: number): number | undefined {
    return seq < this.count ? this.acc[seq] : undefined;
  }
}

export interface LogView {
  origin: string;
  size: number;
  root: Buffer;
  /** The checkpoint's note as published. */
  checkpoint: string;
  devices: Map<string, DeviceLog>;
  /** Roots of the log at the sizes asked for (receipts' checkpoints), as computed from its leaves. */
  rootsAt: Map<number, Buffer>;
  /** The witnesses (of those given) whose cosignatures verify, and the checkpoint size they cosigned. */
  cosigned: Cosigned[];
  cosignedSize?: number;
  /** A gm log: the SM2 signature of the current checkpoint that verified (its key ID and certificate). */
  sm2?: { keyId: string; certificate: string };
}

export type LogProblem = (detail: string) => void;

/** The log's keys as the store's certificates give them. */
export interface LogKey {
  origin: string;
  key: KeyObject;
  /** Whether the log's certificate is a gm CA's: its checkpoints must then carry an SM2 line (evidence-format.md §17.9). */
  gm: boolean;
  /** A gm log's SM2 key from `<log>/log-sm2-cert.pem`, when that certificate is usable. */
  sm2?: { key: KeyObject; certificate: string };
}

/**
 * The log's key from `<log>/log-cert.pem`, checked against the CA; undefined (with a problem) when unusable. Under a
 * gm CA also the SM2 key from `<log>/log-sm2-cert.pem`, whose problems go to `sm2Problem`.
 */
export function readLogKey(logDir: string, caPems: string[], problem: LogProblem, sm2Problem: LogProblem = () => undefined): LogKey | undefined {
  return logKeyOf(readCert(logDir, LOG_CERT_FILE), readCert(logDir, LOG_SM2_CERT_FILE), caPems, problem, sm2Problem);
}

/** The same from the certificates' text as read (from a folder or a bucket); undefined: the file is missing. */
export function logKeyOf(pem: string | undefined, sm2Pem: string | undefined, caPems: string[], problem: LogProblem, sm2Problem: LogProblem = () => undefined): LogKey | undefined {
  if (pem === undefined) {
    problem(`${LOG_DIR}/${LOG_CERT_FILE} is missing: nothing says which key signs the log's checkpoints`);
    return undefined;
  }
  // The log certificates are judged now: a checkpoint is signed when it is published, and is superseded by the next.
  const at = new Date();
  const c = checkLogCertificate(pem, caPems, { at, keyType: 'ed25519' });
  if ('why' in c) {
    problem(`${LOG_DIR}/${LOG_CERT_FILE} is ${c.why}`);
    return undefined;
  }
  const k: LogKey = { origin: c.origin, key: c.key, gm: c.gm };
  if (!c.gm) return k;
  if (sm2Pem === undefined) {
    sm2Problem(`${LOG_DIR}/${LOG_SM2_CERT_FILE} is missing: the log's certificate is from a gm CA, so its checkpoints must be SM2-signed by a log certificate the CA issued`);
    return k;
  }
  const s = checkLogCertificate(sm2Pem, caPems, { at, keyType: 'sm2' });
  if ('why' in s) sm2Problem(`${LOG_DIR}/${LOG_SM2_CERT_FILE} is ${s.why}`);
  else if (s.origin !== c.origin) sm2Problem(`${LOG_DIR}/${LOG_SM2_CERT_FILE} is for log ${s.origin}, not ${c.origin}`);
  else k.sm2 = { key: s.key, certificate: describeCert(sm2Pem) };
  return k;
}

function readCert(logDir: string, name: string): string | undefined {
  try {
    return readFileSync(join(logDir, name), 'utf8');
  } catch {
    return undefined;
  }
}

/** How the report names a certificate: its subject, serial and SHA-256 fingerprint. */
function describeCert(pem: string): string {
  const x = parseCertificate(pem)!;
  return `${x.subject.replace(/\n/g, ', ')} (serial ${x.serialNumber}, SHA-256 ${x.fingerprint256})`;
}

/**
 * A gm log's SM2 line on a checkpoint (evidence-format.md §17.9): `required` for the current checkpoint (missing is
 * a problem); on others (receipts' and witnessed ones, possibly from before the SM2 line) only a line that fails is.
 * Returns the key ID when the line verifies.
 */
export function checkSm2Line(k: LogKey, cp: SignedCheckpoint, where: string, required: boolean, sm2Problem: LogProblem): string | undefined {
  if (!k.gm || !k.sm2) return undefined;
  const r = checkSm2Signature(cp.note, k.origin, k.sm2.key);
  const id = keyIdHex(r.keyId);
  if (r.state === 'valid') return id;
  if (r.state === 'bad') sm2Problem(`${where}: its SM2 signature (key ID ${id}) does not verify with the log's SM2 certificate: the checkpoint was not signed by the log's SM2 key`);
  else if (required) sm2Problem(`${where} carries no SM2 signature by the log's SM2 certificate (key ID ${id}): a gm log signs every checkpoint with SM2 too`);
  return undefined;
}

/**
 * Read and check the log under `logDir`. Problems go to `problem` (each a `bad-log` finding); the view is returned
 * when the checkpoint verifies, even if some leaf or tile does not, so that devices can still be compared with it.
 */
export function readLogView(
  logDir: string,
  caPems: string[],
  witnesses: WitnessKey[],
  wantRoots: Set<number>,
  problem: LogProblem,
  sm2Problem: LogProblem = problem,
): LogView | undefined {
  const k = readLogKey(logDir, caPems, problem, sm2Problem);
  if (!k) return undefined;
  let text: string;
  try {
    text = readFileSync(join(logDir, CHECKPOINT_FILE), 'utf8');
  } catch {
    problem(`${LOG_DIR}/${CHECKPOINT_FILE} is missing`);
    return undefined;
  }
  const cp = openCheckpoint(text, k.origin, k.key);
  if ('why' in cp) {
    problem(`${LOG_DIR}/${CHECKPOINT_FILE} is not a valid checkpoint of log ${k.origin}: ${cp.why}`);
    return undefined;
  }
  const view: LogView = { origin: cp.origin, size: cp.size, root: cp.root, checkpoint: text, devices: new Map(), rootsAt: new Map(), cosigned: [] };
  const sm2KeyId = checkSm2Line(k, cp, `${LOG_DIR}/${CHECKPOINT_FILE}`, true, sm2Problem);
  if (sm2KeyId !== undefined && k.sm2) view.sm2 = { keyId: sm2KeyId, certificate: k.sm2.certificate };
  // The newest checkpoint witnesses cosigned (the receiver keeps it beside the current one), or the current one.
  const w = readWitnessed(logDir, k, problem);
  if (w) checkSm2Line(k, w, `${LOG_DIR}/${WITNESSED_FILE}`, false, sm2Problem);
  const witnessed = w ?? cp;
  const cos = checkCosignatures(witnessed.note, witnesses);
  view.cosigned = cos.ok;
  if (cos.ok.length > 0) view.cosignedSize = witnessed.size;
  for (const w of cos.bad) problem(`the cosignature of witness ${w} on the checkpoint of ${witnessed.size} leaves does not verify`);
  streamLeaves(logDir, cp, view, new Set([...wantRoots, witnessed.size]), problem);
  if (witnessed.size > cp.size) problem(`witnesses cosigned a checkpoint of ${witnessed.size} leaves, but the log's checkpoint has only ${cp.size}: the log was cut back`);
  else if (!view.rootsAt.get(witnessed.size)?.equals(witnessed.root)) problem(`the log at ${witnessed.size} leaves does not have the root its witnessed checkpoint signs: the log was rewritten after witnesses cosigned it`);
  return view;
}

function readWitnessed(logDir: string, k: LogKey, problem: LogProblem): SignedCheckpoint | undefined {
  const path = join(logDir, WITNESSED_FILE);
  if (!existsSync(path)) return undefined;
  const cp = openCheckpoint(readFileSync(path, 'utf8'), k.origin, k.key);
  if ('why' in cp) {
    problem(`${LOG_DIR}/${WITNESSED_FILE} is not a checkpoint of log ${k.origin}: ${cp.why}`);
    return undefined;
  }
  return cp;
}

/** Every leaf in order: rebuilds the root, checks each published tile, and files what the leaves say by device. */
function streamLeaves(logDir: string, cp: SignedCheckpoint, view: LogView, wantRoots: Set<number>, problem: LogProblem): void {
  const root = new StreamingRoot();
  const tiles = new TileCheck(logDir, problem);
  const bundles = Math.ceil(cp.size / TILE_WIDTH);
  let index = 0;
  for (let b = 0; b < bundles; b++) {
    const width = Math.min(TILE_WIDTH, cp.size - b * TILE_WIDTH);
    const rel = tilePath('entries', b, width);
    let leaves: Buffer[] | { why: string };
    try {
      leaves = decodeBundle(readFileSync(join(logDir, rel)));
    } catch {
      leaves = { why: 'it is missing' };
    }
    if ('why' in leaves || leaves.length !== width) {
      problem(`${LOG_DIR}/${rel} ${'why' in leaves ? leaves.why : `holds ${leaves.length} entries, not ${width}`}: the log cannot be checked past leaf ${index}`);
      return;
    }
    for (const data of leaves) {
      if (wantRoots.has(index)) view.rootsAt.set(index, root.root());
      const h = leafHash(data);
      root.push(h);
      tiles.push(h);
      fileLeaf(view, index, data, problem);
      index++;
    }
  }
  if (wantRoots.has(index)) view.rootsAt.set(index, root.root());
  tiles.finish();
  if (!root.root().equals(cp.root)) problem(`the log's ${cp.size} leaves do not hash to the root its checkpoint signs: the log files were changed`);
}

function fileLeaf(view: LogView, index: number, data: Buffer, problem: LogProblem): void {
  const l = parseLeaf(data);
  if ('why' in l) return problem(`log leaf ${index} is not a recgw leaf: ${l.why}`);
  let d = view.devices.get(l.device);
  if (!d) view.devices.set(l.device, (d = new DeviceLog()));
  if (l.kind === 'segment') {
    if (d.segments.has(l.name)) problem(`log leaf ${index} records sealed file ${l.name} of ${l.device} a second time`);
    else d.segments.set(l.name, l);
    return;
  }
  if (l.kind === 'superseded') return d.supersede(index, l, problem);
  if (l.kind === 'deletion') {
    if (d.deletions.has(l.hash)) problem(`log leaf ${index} records deletion event ${l.hash} of ${l.device} a second time`);
    else d.deletions.set(l.hash, l.accepted);
    return;
  }
  // The receiver logs each device's entries in ledger order, each once.
  if (l.seq !== d.count) return problem(`log leaf ${index} records entry ${l.seq} of ${l.device} where entry ${d.count} was due`);
  d.push(Buffer.from(l.hash, 'hex'), Date.parse(l.accepted));
}

/**
 * The published tiles against the leaves: level 0 holds leaf hashes, each level above the folded hashes of the full
 * tiles below; full tiles at `tile/L/N`, the right edge at `tile/L/N.p/W`. A wrong or missing tile would mislead
 * anyone computing proofs from tiles, so it is a problem even though the entries themselves check out.
 */
class TileCheck {
  private readonly rows: Buffer[][] = [];
  private readonly counts: number[] = [];

  constructor(
    private readonly dir: string,
    private readonly problem: LogProblem,
  ) {}

  push(h: Buffer, level = 0): void {
    const row = (this.rows[level] ??= []);
    row.push(h);
    if (row.length < TILE_WIDTH) return;
    const index = this.counts[level] ?? 0;
    this.compare(level, index, row, TILE_WIDTH);
    this.counts[level] = index + 1;
    this.rows[level] = [];
    this.push(foldHashes(Buffer.concat(row), TILE_WIDTH), level + 1);
  }

  finish(): void {
    this.rows.forEach((row, level) => {
      if (row.length > 0) this.compare(level, this.counts[level] ?? 0, row, row.length);
    });
  }

  private compare(level: number, index: number, row: Buffer[], width: number): void {
    const rel = tilePath(level, index, width);
    const path = join(this.dir, rel);
    if (!existsSync(path)) return this.problem(`${LOG_DIR}/${rel} is missing`);
    const got = readFileSync(path);
    if (got.length !== width * HASH_SIZE || !got.equals(Buffer.concat(row))) this.problem(`${LOG_DIR}/${rel} does not hold the hashes of the log's leaves`);
  }
}
