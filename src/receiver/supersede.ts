/**
 * How a conflict over a device's ledger is settled (evidence-format.md §5.6): no other key can lock the genuine
 * current one out. When lines arrive from a seq the receiver already holds, with other content, and they follow the
 * stored entry before it, verify, and install a certificate newer (issued later) than every certificate that signed
 * the stored entries from that seq on — valid now, not revoked — the stored branch from that seq is superseded: its lines (and the sealed files they describe) move to
 * `<device>/superseded/<seq>-<hash>/`, the ledger is cut back before it, the agency log records the supersession,
 * and the newer branch is stored from there. Whoever kept an older key (a stolen or replaced one) can then no
 * longer hold the device's ledger: the agency re-enrols the gateway, and its next certificate wins.
 *
 * The moves and the cut happen inside the ingest's transaction, before its commit. So the folder aside gets an undo
 * record (`pending.json`) first: a receiver killed before the commit leaves files moved and a ledger cut that the
 * database never agreed to, and `recoverSupersessions` (run under the device's lock before its next ledger ingest,
 * and at start) puts them back; once committed, the record is only removed.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { lineHash, lineSignedBy, parseLine, type LedgerEntry } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { LEDGER_FILE, SEGMENTS_DIR } from '../evidence/head.js';
import { SUPERSEDED_DIR } from '../evidence/log-leaf.js';
import { sealedFileName } from '../evidence/sealer.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/ca.js';
import type { Revocations } from '../pki/crl.js';
import { fsyncDirSync } from '../util/fsx.js';
import { startClock, timeStep, type Clock } from '../verify/key-lifecycle.js';
import type { LeafLog } from './agency-log.js';
import { partialDir } from './store-db.js';
import { one, type Queryable } from './receiver-sql.js';


export interface Superseded {
  from: number;
  through: number;
  /** The folder the superseded lines and files went to, relative to the device folder. */
  folder: string;
  /** The state of the ledger before `from`, to continue from. */
  before: { seq: number; hash: string; cert: string; bytes: number; clock: Clock };
}

interface Ctx {
  /** The store's folder; undefined for a store in a bucket, where superseding is not supported yet. */
  store: string | undefined;
  /** The receiver's working folder (its .partial/). */
  work: string;
  /** The ingest's transaction, holding the device's lock. */
  tx: Queryable;
  caPems: string[];
  revocations: Revocations;
  log: LeafLog;
  now: Date;
}

/** Lines of a ledger file with their byte offsets, read in chunks (a rare event, on files of any size). */
function* linesWithOffsets(path: string): Generator<{ line: string; start: number; end: number }> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0);
    let pos = 0;
    let base = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      let data = Buffer.concat([carry, buf.subarray(0, n)]);
      let at = 0;
      for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, at)) {
        yield { line: data.toString('utf8', at, i), start: base + at, end: base + i + 1 };
        at = i + 1;
      }
      base += at;
      carry = Buffer.from(data.subarray(at));
      data = carry;
    }
  } finally {
    closeSync(fd);
  }
}

const issuedAt = (pem: string): number => Date.parse(parseCertificate(pem)?.validFrom ?? '');

/**
 * Settle a conflict at the first seq of `incoming` (consecutive lines of one entries message, from the conflict on)
 * in its favour, if it may win (the module comment says when). Runs inside the receiver's write transaction.
 * Returns what was superseded, or why `incoming` does not win.
 */
export async function supersede(ctx: Ctx, device: string, incoming: { line: string; entry: LedgerEntry }[], storedSeq: number): Promise<Superseded | { why: string }> {
  const first = incoming[0]!.entry;
  // Moving a branch aside is renames and a truncation in a folder; in a bucket it needs copies and a cut of the
  // ledger's pieces that are not written yet (docs/object-store.md, "Not yet"). Refused, the stored branch stands.
  if (ctx.store === undefined) return { why: 'the store is an S3 bucket, where superseding a stored branch is not supported yet: the stored branch stands' };
  const dir = join(ctx.store, device);
  const path = join(dir, LEDGER_FILE);
  let certBefore = '';
  let prevHash = '';
  let bytes = 0;
  const clock = startClock();
  const branch: { line: string; entry: LedgerEntry; signer: string }[] = [];
  let inForce = '';
  for (const l of linesWithOffsets(path)) {
    const p = parseLine(l.line);
    if (!p.ok) return { why: `the stored ledger cannot be read at byte ${l.start}` };
    const s = p.entry;
    if (s.seq > storedSeq) break;
    if (s.type === ENTRY.ledgerOpened || s.type === ENTRY.certificateInstalled) inForce = s.body.cert as string;
    if (s.seq < first.seq) {
      certBefore = inForce;
      prevHash = lineHash(l.line);
      bytes = l.end;
      timeStep(clock, s);
    } else {
      branch.push({ line: l.line, entry: s, signer: inForce });
    }
  }
  if (branch.length === 0 || branch[0]!.entry.seq !== first.seq) return { why: `the stored ledger has no entry ${first.seq}` };

  // The incoming branch: it follows the stored entry before the conflict, each line the one before, each signed by
  // the certificate in force; it must install a certificate newer than every one that signed the stored branch.
  let cert = certBefore;
  let prev = prevHash;
  const times = { ...clock };
  let newest: string | undefined;
  for (const { line, entry: e } of incoming) {
    if (e.seq !== first.seq + incoming.findIndex((x) => x.entry === e) || e.prev !== prev) return { why: `the lines from ${first.seq} on do not follow each other and the stored entry ${first.seq - 1}` };
    if (e.type === ENTRY.ledgerOpened || e.type === ENTRY.certificateInstalled) {
      const c = e.body.cert as string;
      const problems = [...checkCertificate(c, ctx.caPems, { at: ctx.now, role: ROLE_DEVICE, commonName: device }), ...checkCertificate(c, ctx.caPems, { at: new Date(e.time), role: ROLE_DEVICE, commonName: device })];
      if (problems.length > 0) return { why: `the certificate of entry ${e.seq} is not valid: ${problems.map((p) => p.detail).join('; ')}` };
      if (ctx.revocations.of(c)) return { why: `the certificate of entry ${e.seq} is revoked` };
      if (cert && issuedAt(c) < issuedAt(cert)) return { why: `entry ${e.seq} brings back an older certificate` };
      cert = c;
      if (!newest || issuedAt(c) > issuedAt(newest)) newest = c;
    }
    const key = parseCertificate(cert)?.publicKey;
    if (!key || !lineSignedBy(line, key)) return { why: `the signature of entry ${e.seq} does not verify` };
    const reversed = timeStep(times, e);
    if (reversed) return { why: `entry ${e.seq}: ${reversed}` };
    prev = lineHash(line);
  }
  if (!newest) return { why: 'the lines from the conflict on install no certificate: only a newer certificate can settle a conflict' };
  if (!branch.every((b) => issuedAt(b.signer) < issuedAt(newest!))) {
    return { why: 'the stored entries from there are signed by a certificate as new as the incoming one or newer: the stored branch stands' };
  }
  const e = first;

  // Move the stored branch aside, with the files its manifests describe, then cut the ledger back.
  const through = branch[branch.length - 1]!.entry.seq;
  const folder = join(SUPERSEDED_DIR, `${e.seq}-${lineHash(branch[0]!.line).slice(0, 12)}`);
  mkdirSync(join(dir, folder, SEGMENTS_DIR), { recursive: true });
  const names = branch.filter((b) => b.entry.type === ENTRY.segmentSealed).map((b) => String(b.entry.body.segment));
  const undo: Undo = { from: e.seq, hash: lineHash(branch[0]!.line), bytes };
  writeDurably(join(dir, folder, LEDGER_FILE), branch.map((b) => b.line + '\n').join(''));
  writeDurably(join(dir, folder, UNDO_FILE), JSON.stringify(undo) + '\n');
  for (const name of names) {
    const file = join(dir, SEGMENTS_DIR, sealedFileName(name));
    if (existsSync(file)) renameSync(file, join(dir, folder, SEGMENTS_DIR, sealedFileName(name)));
    rmSync(join(partialDir(ctx.work, device), sealedFileName(name)), { force: true });
  }
  fsyncDirSync(join(dir, folder, SEGMENTS_DIR));
  fsyncDirSync(join(dir, folder));
  fsyncDirSync(dir);
  cutAndAppend(path, bytes, '');
  await ctx.tx.query('DELETE FROM entries WHERE device = $1 AND seq >= $2', [device, e.seq]);
  await ctx.tx.query('DELETE FROM manifests WHERE device = $1 AND seq >= $2', [device, e.seq]);
  for (const name of names) {
    await ctx.tx.query('DELETE FROM files WHERE device = $1 AND name = $2', [device, name]);
    await ctx.tx.query('DELETE FROM chunks WHERE device = $1 AND name = $2', [device, name]);
  }
  await ctx.log.append(ctx.tx, [{ v: 1, kind: 'superseded', device, from: e.seq, through, hash: lineHash(branch[0]!.line), by: lineHash(incoming[0]!.line), accepted: ctx.now.toISOString() }]);
  return { from: e.seq, through, folder, before: { seq: e.seq - 1, hash: prevHash, cert: certBefore, bytes, clock } };
}

/** The undo record of a supersession not yet known to be committed: what the ledger was cut back to, and from where. */
interface Undo {
  from: number;
  /** The hash of the first superseded line: still stored at `from` if the transaction did not commit. */
  hash: string;
  bytes: number;
}
const UNDO_FILE = 'pending.json';

function writeDurably(path: string, data: string): void {
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Cut a file to `bytes`, append `data` there, fsync. */
function cutAndAppend(path: string, bytes: number, data: string): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, bytes);
    const buf = Buffer.from(data, 'utf8');
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off, bytes + off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Settle what a supersession killed mid-way left in `device`'s folder (the module comment): undo it where the database
 * still holds the superseded branch, else drop its undo record. Call holding the device's lock, in its transaction.
 * Returns the number of supersessions undone.
 */
export async function recoverSupersessions(store: string, device: string, q: Queryable): Promise<number> {
  const aside = join(store, device, SUPERSEDED_DIR);
  if (!existsSync(aside)) return 0;
  let undone = 0;
  for (const name of readdirSync(aside)) {
    const folder = join(aside, name);
    const undoPath = join(folder, UNDO_FILE);
    if (!existsSync(undoPath)) continue;
    const undo = JSON.parse(readFileSync(undoPath, 'utf8')) as Undo;
    const stored = await one<{ hash: string }>(q, 'SELECT hash FROM entries WHERE device = $1 AND seq = $2', [device, undo.from]);
    if (stored?.hash !== undo.hash) {
      // Committed: the branch left the database; the folder aside is what the agency log records.
      rmSync(undoPath);
      fsyncDirSync(folder);
      continue;
    }
    // Not committed: the stored branch stands. Its files go back, the ledger gets its lines back, the folder goes.
    const dir = join(store, device);
    const moved = existsSync(join(folder, SEGMENTS_DIR)) ? readdirSync(join(folder, SEGMENTS_DIR)) : [];
    for (const f of moved) if (!existsSync(join(dir, SEGMENTS_DIR, f))) renameSync(join(folder, SEGMENTS_DIR, f), join(dir, SEGMENTS_DIR, f));
    if (moved.length > 0) fsyncDirSync(join(dir, SEGMENTS_DIR));
    cutAndAppend(join(dir, LEDGER_FILE), undo.bytes, readFileSync(join(folder, LEDGER_FILE), 'utf8'));
    rmSync(folder, { recursive: true, force: true });
    fsyncDirSync(aside);
    undone++;
  }
  return undone;
}
