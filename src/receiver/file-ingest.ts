/**
 * Storing sealed segment files from chunks. Each chunk's new bytes are written at their offset where unfinished files
 * are kept (partial-bytes.ts: the working folder, or the bucket), so order and repeats do not matter; when the ranges
 * cover the file and its manifest is stored, the file is hashed as it will be stored, checked against the manifest,
 * put durably into the store as `<d>/segments/<file>` (src/store), and only then recorded stored and receipted.
 */
import type { Readable } from 'node:stream';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { Signer } from '../evidence/signer.js';
import { SEGMENTS_DIR } from '../evidence/head.js';
import { sealedFileName } from '../evidence/sealer.js';
import { RECEIPTS_FILE, encodeReceipt, makeReceipt, type SegmentReceipt } from '../evidence/receipt.js';
import type { EvidenceStore } from '../store/store.js';
import { partialsOf, storePlace, type StorePlace } from './store-place.js';
import type { ChunkHeader, FileState } from '../uplink/wire.js';
import type { DeviceLimits } from './limits.js';
import { coveredPrefix, uncovered } from './store-db.js';
import { one, type Queryable, type ReceiverSql } from './receiver-sql.js';
import { Filing, stage } from './filing.js';
import type { PartialBytes, ReadyFile } from './partial-bytes.js';
import type { LeafLog } from './agency-log.js';

interface FileRow {
  size: number;
  sha256: string;
  deadline: string;
  state: 'partial' | 'stored';
  receipt: string | null;
}

export type ChunkOutcome = { kind: 'written'; complete: boolean } | { kind: 'ignored'; why: string } | { kind: 'refused'; why: string };

/**
 * Running SHA-256 of a file's contiguous prefix, when this receiver saw its chunks in order (the usual case), and its
 * MD5, which a bucket's PUT carries (reading the file again for it cost a pass over every byte: bench/README.md).
 */
interface Running {
  hash: Hash;
  md5: Hash;
  upto: number;
}
const MAX_RUNNING = 64;
/** A claimed range not written after this long was left by a receiver that stopped mid-write (a write takes ms). */
export const CLAIM_STALE_MS = 60_000;

export class FileIngest {
  private readonly running = new Map<string, Running>();
  /** This run's claims: '<receiver name>/<run>' (one receiver name is one receiver; see dropEarlierClaims). */
  private readonly claimant: string;
  private readonly filing: Filing;
  private limits: DeviceLimits | undefined;
  private readonly evidence: EvidenceStore;
  private readonly partials: PartialBytes;

  constructor(
    place: string | StorePlace,
    private readonly sql: ReceiverSql,
    private readonly signer: Signer,
    private readonly receiverName: string,
    private readonly agencyLog: LeafLog,
    filing?: Filing,
  ) {
    this.claimant = `${receiverName}/${randomUUID()}`;
    const p = storePlace(place);
    this.evidence = p.evidence;
    this.partials = partialsOf(p);
    // The receiver's own, shared with LedgerIngest, so that a device's receipts are filed together (filing.ts).
    this.filing = filing ?? new Filing(this.evidence, sql);
  }

  /** Take chunks only within the device's limits (limits.ts); without, only the manifest bounds them. */
  useLimits(limits: DeviceLimits): void {
    this.limits = limits;
  }

  /**
   * Drop the claims an earlier run of this receiver left (it stopped between claiming bytes and writing them), so
   * that they are written at once rather than after CLAIM_STALE_MS: the gateway would wait that long for the file.
   * Called when the receiver starts, before it takes any message. A second receiver run under the same name would
   * lose its claims here: its writes are then not exclusive, but the bytes are the same and the hash check before
   * storing still holds. Returns how many were dropped.
   */
  async dropEarlierClaims(): Promise<number> {
    const prefix = `${this.receiverName}/`;
    const gone = await this.sql.transaction((tx) =>
      tx.query('DELETE FROM chunks WHERE claimed_at IS NOT NULL AND substr(claimed_by, 1, $1) = $2 AND claimed_by <> $3 RETURNING 1', [prefix.length, prefix, this.claimant]),
    );
    return gone.length;
  }

  private row(device: string, name: string, q: Queryable = this.sql): Promise<FileRow | undefined> {
    return one<FileRow>(q, 'SELECT size, sha256, deadline, state, receipt FROM files WHERE device = $1 AND name = $2', [device, name]);
  }

  async state(device: string, name: string): Promise<{ state: FileState; receipt?: SegmentReceipt }> {
    const r = await this.row(device, name);
    if (r?.state === 'stored') return { state: { stored: true }, ...(r.receipt ? { receipt: JSON.parse(r.receipt) as SegmentReceipt } : {}) };
    if (!r) return { state: { have: 0 } };
    return { state: { have: coveredPrefix(await this.ranges(device, name)) } };
  }

  /** One chunk at a time per device (the receiver handles a device's messages in order); devices side by side. */
  async chunk(h: ChunkHeader, data: Buffer): Promise<ChunkOutcome> {
    const { device, name } = h;
    let r = await this.row(device, name);
    if (r?.state === 'stored') return { kind: 'ignored', why: `${name} is already stored (a replay or a resend)` };
    const m = await this.manifest(device, name);
    if (m && (m.size !== h.size || m.sha256 !== h.sha256)) return { kind: 'refused', why: `the chunk describes ${name} as ${h.size} bytes with sha256 ${h.sha256}, but its manifest says ${m.size}, ${m.sha256}` };
    // Begun before its manifest was stored, as another file: it can never be stored, and would block the real one.
    if (m && r && (r.size !== m.size || r.sha256 !== m.sha256)) {
      await this.discard(device, name);
      r = undefined;
    }
    if (r && (r.size !== h.size || r.sha256 !== h.sha256)) return { kind: 'refused', why: `the chunk describes ${name} differently from its earlier chunks` };
    const over = await this.limits?.chunk(h, data.length, m !== undefined, r !== undefined);
    if (over) return { kind: 'refused', why: over };
    const holes = await this.claim(h, data.length);
    if (!holes) return { kind: 'ignored', why: `${name} is already stored (a replay or a resend)` };
    if (holes.length > 0) {
      try {
        await this.partials.write(device, name, holes, data, h.offset, h.size);
      } catch (err) {
        await this.unclaim(device, name, holes);
        this.running.delete(`${device}/${name}`);
        throw err;
      }
      // Only our own claims: one taken over meanwhile (ours had gone stale) is the taker's to mark.
      await this.sql.transaction(async (tx) => {
        for (const [from] of holes) {
          await tx.query('UPDATE chunks SET claimed_at = NULL, claimed_by = NULL WHERE device = $1 AND name = $2 AND "offset" = $3 AND claimed_by = $4', [device, name, from, this.claimant]);
        }
      }, { device });
      // A part of a multipart upload these bytes completed goes up now (s3-partials.ts).
      await this.partials.written(device, name, holes, h.size);
    }
    const fresh = holes.length === 1 && holes[0]![0] === h.offset && holes[0]![1] === h.offset + data.length;
    if (fresh) this.follow(device, name, h.offset, data);
    else this.running.delete(`${device}/${name}`);
    return { kind: 'written', complete: await this.complete(device, name, h.size) };
  }

  /**
   * The bytes of the chunk nobody holds or is writing, claimed for this receiver under the write lock, so that
   * receivers sharing the store never write the same bytes: bytes once written are never overwritten (a resend is
   * the same bytes, and anything else must not change what was already hashed). A claim older than
   * CLAIM_STALE_MS was left by a receiver that stopped mid-write; its bytes may be missing and are written again.
   * Undefined when the file is stored.
   */
  private claim(h: ChunkHeader, len: number): Promise<[number, number][] | undefined> {
    const { device, name } = h;
    return this.sql.transaction(async (tx): Promise<[number, number][] | undefined> => {
      const now = Date.now();
      // Looked at again under the lock: a receiver sharing the store may have just stored or discarded the file.
      const state = (await this.row(device, name, tx))?.state;
      if (state === 'stored') return undefined;
      if (!state) await tx.query(`INSERT INTO files(device, name, size, sha256, deadline, state) VALUES ($1, $2, $3, $4, $5, 'partial')`, [device, name, h.size, h.sha256, h.deadline]);
      await tx.query('DELETE FROM chunks WHERE device = $1 AND name = $2 AND claimed_at < $3', [device, name, now - CLAIM_STALE_MS]);
      const holes = uncovered(await this.ranges(device, name, true, tx), h.offset, len);
      // No hole starts where a range starts, so each is a row of its own.
      for (const [from, to] of holes) {
        await tx.query('INSERT INTO chunks(device, name, "offset", len, claimed_at, claimed_by) VALUES ($1, $2, $3, $4, $5, $6)', [device, name, from, to - from, now, this.claimant]);
      }
      return holes;
    }, { device });
  }

  private unclaim(device: string, name: string, holes: [number, number][]): Promise<void> {
    return this.sql.transaction(async (tx) => {
      for (const [from] of holes) await tx.query('DELETE FROM chunks WHERE device = $1 AND name = $2 AND "offset" = $3 AND claimed_by = $4', [device, name, from, this.claimant]);
    }, { device });
  }

  /**
   * Hash as the chunks come, so a file received in order is not read back to be checked. Anything else (a gap, a
   * rewrite of bytes already hashed, chunks that went to another receiver) drops the running hash, and finalize
   * reads the file instead.
   */
  private follow(device: string, name: string, offset: number, data: Buffer): void {
    const key = `${device}/${name}`;
    let r = this.running.get(key);
    if (!r && offset === 0) {
      if (this.running.size >= MAX_RUNNING) this.running.delete(this.running.keys().next().value!);
      r = { hash: createHash('sha256'), md5: createHash('md5'), upto: 0 };
      this.running.set(key, r);
    }
    if (!r) return;
    if (offset !== r.upto) {
      this.running.delete(key);
      return;
    }
    r.hash.update(data);
    r.md5.update(data);
    r.upto += data.length;
  }

  /** The ranges written, and with `claimed` also those being written. */
  private ranges(device: string, name: string, claimed = false, q: Queryable = this.sql): Promise<{ offset: number; len: number }[]> {
    const where = claimed ? '' : ' AND claimed_at IS NULL';
    return q.query('SELECT "offset", len FROM chunks WHERE device = $1 AND name = $2' + where, [device, name]);
  }

  private async complete(device: string, name: string, size: number): Promise<boolean> {
    return coveredPrefix(await this.ranges(device, name)) >= size;
  }

  /** `sha256`: the stored file's hash in the manifest's own algorithm, `hash_alg` (SM3 for a gm manifest). */
  private manifest(device: string, name: string): Promise<{ seq: number; size: number; sha256: string; hash_alg: 'sha256' | 'sm3' } | undefined> {
    return one(this.sql, 'SELECT seq, size, sha256, hash_alg FROM manifests WHERE device = $1 AND name = $2', [device, name]);
  }

  /**
   * Store the file if it is complete and its manifest is known. Returns the receipt, undefined when not ready or
   * already stored, or a refusal (the partial file is discarded so a genuine resend starts clean).
   */
  async finalize(device: string, name: string, now: () => Date): Promise<SegmentReceipt | { refused: string } | undefined> {
    const r = await this.row(device, name);
    const m = await this.manifest(device, name);
    if (!r || r.state !== 'partial' || !m || !(await this.complete(device, name, r.size))) return undefined;
    const stored = `${device}/${SEGMENTS_DIR}/${sealedFileName(name)}`;
    // Put into the store by a receiver that stopped before recording it stored: ready() goes on from there.
    let ready: ReadyFile;
    try {
      ready = await this.partials.ready(device, name, r.size, stored);
    } catch (err) {
      // Another receiver finishing the same file stored it meanwhile (and cleared its upload): nothing to do.
      if ((await this.row(device, name))?.state === 'stored') return undefined;
      throw err;
    }
    const key = `${device}/${name}`;
    const run = this.running.get(key);
    this.running.delete(key);
    // The running hash is SHA-256 (a chunk may come before its manifest says otherwise); a gm file is read back for SM3.
    const whole = ready.trustRunning && run && run.upto === r.size ? run : undefined;
    const known = ready.sha256 ?? whole?.hash.digest('hex');
    const actual = known && m.hash_alg === 'sha256' ? { size: r.size, sha256: known } : await hashStream(await ready.read(), m.hash_alg);
    if (actual.size !== m.size || actual.sha256 !== m.sha256) {
      const why = `${name} arrived as ${actual.size} bytes with ${m.hash_alg} ${actual.sha256}, but its manifest (entry ${m.seq}) says ${m.size} bytes, ${m.sha256}: forged or damaged, not stored`;
      await this.discard(device, name, ready.inStore ? stored : undefined);
      return { refused: why };
    }
    // Into the store before the transaction that records it, so that no lock is held while it goes up (on SQLite
    // every transaction of the process waited for it: bench/README.md, s3-ingest). The object is written once and
    // conditionally: a crash before the commit leaves an object the retry finds there with these bytes.
    await ready.store(whole?.md5.digest('base64'));
    const receipt = await this.sql.transaction(async (tx): Promise<SegmentReceipt | undefined> => {
        // Another receiver sharing the store may have finished it while we hashed.
        if ((await this.row(device, name, tx))?.state !== 'partial') return undefined;
        const storedAt = now().toISOString();
        const logged = await this.agencyLog.append(tx, [{ v: 1, kind: 'segment', device, name, size: m.size, sha256: m.sha256, manifestSeq: m.seq, accepted: storedAt }]);
        const receipt = makeReceipt(
          {
            kind: 'segment',
            device,
            name,
            size: m.size,
            sha256: m.sha256,
            manifestSeq: m.seq,
            deadline: r.deadline,
            storedAt,
            receiver: this.receiverName,
            log: logged.proof,
          },
          this.signer,
        ) as SegmentReceipt;
        await tx.query(`UPDATE files SET state = 'stored', receipt = $1 WHERE device = $2 AND name = $3`, [JSON.stringify(receipt), device, name]);
        await tx.query('DELETE FROM chunks WHERE device = $1 AND name = $2', [device, name]);
        await stage(tx, device, RECEIPTS_FILE, encodeReceipt(receipt));
        return receipt;
      }, { device, durable: true });
    if (receipt) {
      // Stored and committed: the chunks are no longer needed. Removed while the next message is handled (in a
      // bucket a LIST and a DELETE); left behind by a crash or a failure, the sweep removes them, as no partial row
      // describes them. Nothing else touches them: chunks of a stored file are ignored.
      void this.partials.done(this.sql, device, name).catch(() => undefined);
      await this.filing.file(device);
    }
    return receipt;
  }

  /** Forget a file that failed its check, and remove it: from .partial, and from the store when put there unrecorded. */
  private async discard(device: string, name: string, stored?: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(`DELETE FROM files WHERE device = $1 AND name = $2 AND state = 'partial'`, [device, name]);
      await tx.query('DELETE FROM chunks WHERE device = $1 AND name = $2', [device, name]);
      await this.partials.remove(tx, device, name);
    }, { device });
    if (stored) await this.evidence.remove(stored);
  }
}

async function hashStream(bytes: Readable, alg: 'sha256' | 'sm3'): Promise<{ size: number; sha256: string }> {
  const h = createHash(alg);
  let size = 0;
  for await (const chunk of bytes) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: h.digest('hex') };
}
