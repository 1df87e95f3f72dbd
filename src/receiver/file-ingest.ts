/**
 * Storing sealed segment files from chunks. Each chunk is written at its offset into `<store>/.partial/<d>/`, so
 * order and repeats do not matter; when the ranges cover the file and its manifest is stored, the file is hashed,
 * checked against the manifest, fsynced and renamed into `<store>/<d>/segments/`, and only then receipted.
 */
import { closeSync, constants, createReadStream, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Db } from '../state/db.js';
import type { Signer } from '../evidence/signer.js';
import { SEGMENTS_DIR } from '../evidence/head.js';
import { sealedFileName } from '../evidence/sealer.js';
import { makeReceipt, type SegmentReceipt } from '../evidence/receipt.js';
import { fsyncDirSync } from '../util/fsx.js';
import type { ChunkHeader, FileState } from '../uplink/wire.js';
import { coveredPrefix, partialDir } from './store-db.js';
import { appendReceipt } from './receipts-file.js';

interface FileRow {
  size: number;
  sha256: string;
  deadline: string;
  state: 'partial' | 'stored';
  receipt: string | null;
}

export type ChunkOutcome = { kind: 'written'; complete: boolean } | { kind: 'ignored'; why: string } | { kind: 'refused'; why: string };

export class FileIngest {
  constructor(
    private readonly store: string,
    private readonly db: Db,
    private readonly signer: Signer,
    private readonly receiverName: string,
  ) {}

  private row(device: string, name: string): FileRow | undefined {
    return this.db.prepare('SELECT size, sha256, deadline, state, receipt FROM files WHERE device = ? AND name = ?').get(device, name) as FileRow | undefined;
  }

  private partialPath(device: string, name: string): string {
    return join(partialDir(this.store, device), sealedFileName(name));
  }

  state(device: string, name: string): { state: FileState; receipt?: SegmentReceipt } {
    const r = this.row(device, name);
    if (r?.state === 'stored') return { state: { stored: true }, ...(r.receipt ? { receipt: JSON.parse(r.receipt) as SegmentReceipt } : {}) };
    if (!r) return { state: { have: 0 } };
    const ranges = this.db.prepare('SELECT offset, len FROM chunks WHERE device = ? AND name = ?').all(device, name) as { offset: number; len: number }[];
    return { state: { have: coveredPrefix(ranges) } };
  }

  chunk(h: ChunkHeader, data: Buffer): ChunkOutcome {
    const { device, name } = h;
    const r = this.row(device, name);
    if (r?.state === 'stored') return { kind: 'ignored', why: `${name} is already stored (a replay or a resend)` };
    const m = this.manifest(device, name);
    if (m && (m.size !== h.size || m.sha256 !== h.sha256)) return { kind: 'refused', why: `the chunk describes ${name} as ${h.size} bytes with sha256 ${h.sha256}, but its manifest says ${m.size}, ${m.sha256}` };
    if (r && (r.size !== h.size || r.sha256 !== h.sha256)) return { kind: 'refused', why: `the chunk describes ${name} differently from its earlier chunks` };
    if (!r) this.db.prepare(`INSERT OR IGNORE INTO files(device, name, size, sha256, deadline, state) VALUES (?, ?, ?, ?, ?, 'partial')`).run(device, name, h.size, h.sha256, h.deadline);
    mkdirSync(partialDir(this.store, device), { recursive: true });
    const fd = openSync(this.partialPath(device, name), constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off, h.offset + off);
    } finally {
      closeSync(fd);
    }
    this.db.prepare('INSERT OR REPLACE INTO chunks(device, name, offset, len) VALUES (?, ?, ?, ?)').run(device, name, h.offset, data.length);
    return { kind: 'written', complete: this.complete(device, name, h.size) };
  }

  private complete(device: string, name: string, size: number): boolean {
    const ranges = this.db.prepare('SELECT offset, len FROM chunks WHERE device = ? AND name = ?').all(device, name) as { offset: number; len: number }[];
    return coveredPrefix(ranges) >= size;
  }

  private manifest(device: string, name: string): { seq: number; size: number; sha256: string } | undefined {
    return this.db.prepare('SELECT seq, size, sha256 FROM manifests WHERE device = ? AND name = ?').get(device, name) as
      | { seq: number; size: number; sha256: string }
      | undefined;
  }

  /**
   * Store the file if it is complete and its manifest is known. Returns the receipt, undefined when not ready or
   * already stored, or a refusal (the partial file is discarded so a genuine resend starts clean).
   */
  async finalize(device: string, name: string, now: () => Date): Promise<SegmentReceipt | { refused: string } | undefined> {
    const r = this.row(device, name);
    const m = this.manifest(device, name);
    if (!r || r.state !== 'partial' || !m || !this.complete(device, name, r.size)) return undefined;
    const path = this.partialPath(device, name);
    const actual = await hashFile(path);
    if (actual.size !== m.size || actual.sha256 !== m.sha256) {
      const why = `${name} arrived as ${actual.size} bytes with sha256 ${actual.sha256}, but its manifest (entry ${m.seq}) says ${m.size} bytes, ${m.sha256}: forged or damaged, not stored`;
      this.discard(device, name);
      return { refused: why };
    }
    return this.db
      .transaction((): SegmentReceipt | undefined => {
        // Another receiver sharing the store may have finished it while we hashed.
        if (this.row(device, name)?.state !== 'partial') return undefined;
        const fd = openSync(path, 'r+');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        const dir = join(this.store, device);
        mkdirSync(join(dir, SEGMENTS_DIR), { recursive: true });
        renameSync(path, join(dir, SEGMENTS_DIR, sealedFileName(name)));
        fsyncDirSync(join(dir, SEGMENTS_DIR));
        const receipt = makeReceipt(
          { kind: 'segment', device, name, size: m.size, sha256: m.sha256, manifestSeq: m.seq, deadline: r.deadline, storedAt: now().toISOString(), receiver: this.receiverName },
          this.signer,
        ) as SegmentReceipt;
        this.db.prepare(`UPDATE files SET state = 'stored', receipt = ? WHERE device = ? AND name = ?`).run(JSON.stringify(receipt), device, name);
        this.db.prepare('DELETE FROM chunks WHERE device = ? AND name = ?').run(device, name);
        appendReceipt(dir, receipt);
        return receipt;
      })
      .immediate();
  }

  private discard(device: string, name: string): void {
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM files WHERE device = ? AND name = ? AND state = 'partial'`).run(device, name);
      this.db.prepare('DELETE FROM chunks WHERE device = ? AND name = ?').run(device, name);
    })();
    rmSync(this.partialPath(device, name), { force: true });
  }
}

async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: h.digest('hex') };
}
