/**
 * Segment files checked as their manifests are read, not after the whole ledger: each well-formed manifest's
 * file goes to the check pool in batches (or, with the agency key, is checked and decrypted here), a bounded
 * number at a time. What is kept: the batches in flight; the names of files that are absent and not yet
 * explained by a covered deletion (a deletion comes after its manifest, so these are the recent ones); and which
 * file names some manifest describes, as 64-bit digests, for the look at segments/ at the end (for the usual
 * segments/<segment>.seg, the deletion check's index of manifests answers that).
 */
import { opendir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { SegmentManifest } from '../evidence/types.js';
import { SEGMENTS_DIR } from '../evidence/head.js';
import type { CheckPool, FileInspection } from './check-pool.js';
import type { DeletionCheck } from './deletions.js';
import type { FindingKind } from './findings.js';
import { LineIndex } from './line-index.js';
import { checkSegmentFile, judgeSegmentFile, type SegmentCheck } from './segment-files.js';

const BATCH = 256;

/** A device's sealed segments somewhere other than its folder (a bucket): what is at a name, and what segments/ holds. */
export interface SegmentSource {
  /** What is at `file` (the manifest's `segments/….seg`), hashed when its size is `size`, as the pool finds a file. */
  inspect(file: string, size: number, alg: 'sha256' | 'sm3'): Promise<FileInspection>;
  /** The names in segments/. */
  names(): Promise<string[]>;
}

export class SegmentFileChecks {
  private batch: SegmentManifest[] = [];
  private readonly out = new Set<Promise<void>>();
  /** Absent files by segment name (with each one's finding, in case no deletion ever covers it). */
  private readonly absent = new Map<string, string[]>();
  private readonly described = new LineIndex('names');
  private error: Error | null = null;
  /** Sealed files absent because a covered deletion removed them. */
  deleted = 0;
  /** Sealed files absent because the agency deleted them at the end of their retention term. */
  retained = 0;

  constructor(
    private readonly dir: string,
    private readonly pool: CheckPool,
    /** Whether agency keys were given: files are then decrypted here, in this thread, instead of in the pool. */
    private readonly decrypting: boolean,
    private readonly deletions: DeletionCheck,
    private readonly report: (kind: FindingKind, detail: string) => void,
    /** Where the segments are, when not in `dir`. */
    private readonly source?: SegmentSource,
  ) {}

  /**
   * A well-formed manifest; `usualFile`: the deletion check's index stands for its file name (so it need not be
   * kept here too). Returns a promise to await before adding more when too many checks are out.
   */
  add(m: SegmentManifest, usualFile: boolean, decryptWith?: KeyObject): Promise<void> | undefined {
    if (!usualFile) this.described.add(basename(m.file));
    // With the agency key, a manifest that names it is decrypted here; one that names another key only has its file
    // checked (its wrong key is a finding of its own, encryption-key.ts).
    if (decryptWith) return this.track(checkSegmentFile(join(this.dir, m.file), m, decryptWith).then((r) => this.result(m, r)));
    this.batch.push(m);
    return this.batch.length >= BATCH ? this.flush() : undefined;
  }

  /** A covered deletion of this segment: an absent file of it found so far is explained. */
  covered(segment: string, byRetention = false): void {
    const waiting = this.absent.get(segment);
    if (!waiting) return;
    this.absent.delete(segment);
    if (byRetention) this.retained += waiting.length;
    else this.deleted += waiting.length;
  }

  /** Wait for every check, then the absences the agency's retention deletions explain (by segment). */
  async settle(agencyDeleted: () => ReadonlySet<string>): Promise<void> {
    await this.flush(true);
    while (this.out.size > 0) await Promise.all([...this.out]);
    if (this.error) throw this.error;
    for (const segment of agencyDeleted()) this.covered(segment, true);
  }

  /** After settle(): report absences nothing covered and files no manifest describes. */
  async finish(): Promise<void> {
    for (const details of this.absent.values()) for (const d of details) this.report('missing-segment', d);
    this.absent.clear();
    await this.checkUndescribed();
  }

  private flush(last = false): Promise<void> | undefined {
    const ms = this.batch;
    this.batch = [];
    if (ms.length > 0) {
      const alg = (m: SegmentManifest): 'sha256' | 'sm3' => ('sm3' in m.stored ? 'sm3' : 'sha256');
      const source = this.source;
      const found = source
        ? Promise.all(ms.map((m) => source.inspect(m.file, m.stored.size, alg(m))))
        : this.pool.inspectFiles(
            ms.map((m) => join(this.dir, m.file)),
            ms.map((m) => m.stored.size),
            ms.map(alg),
            last,
          );
      void this.track(found.then((f) => ms.forEach((m, i) => this.result(m, judgeSegmentFile(m, f[i]!)))));
    }
    return this.decrypting ? undefined : this.pool.room();
  }

  private track(p: Promise<void>): Promise<void> | undefined {
    const t = p.catch((err: Error) => void (this.error ??= err)).finally(() => this.out.delete(t));
    this.out.add(t);
    // Checks here in this thread (with the agency key) are bounded like the pool's batches.
    if (this.decrypting && this.out.size >= this.pool.maxInFlight) return Promise.race(this.out);
    return undefined;
  }

  private result(m: SegmentManifest, r: SegmentCheck): void {
    if (r.ok) return;
    if (r.kind === 'missing-segment' && r.absent) {
      if (this.deletions.isCovered(m.segment)) this.deleted++;
      else this.absent.set(m.segment, [...(this.absent.get(m.segment) ?? []), r.detail]);
      return;
    }
    this.report(r.kind, r.detail);
  }

  /** A `*.seg` file in segments/ that no manifest describes: its entry was removed or the ledger cut short. */
  private async checkUndescribed(): Promise<void> {
    for await (const name of this.segmentNames()) {
      if (name.endsWith('.seg') && !this.deletions.describesUsualFile(name) && !this.described.has(name)) {
        this.report('broken-chain', `${SEGMENTS_DIR}/${name} is in the folder but no ledger entry describes it (entries removed or the ledger cut short)`);
      }
    }
  }

  private async *segmentNames(): AsyncGenerator<string> {
    if (this.source) {
      yield* await this.source.names();
      return;
    }
    let names;
    try {
      names = await opendir(join(this.dir, SEGMENTS_DIR), { bufferSize: 256 });
    } catch {
      // No segments folder (or not a folder): each manifest's file is then reported missing on its own.
      return;
    }
    for await (const d of names) yield d.name;
  }
}
