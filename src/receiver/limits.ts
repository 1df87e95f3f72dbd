/**
 * What one device may cost the store that all devices share (docs/uplink-protocol.md §5, "Per-device limits"):
 * bytes and files of partial files whose manifest is not stored, the size such a file may declare, and the ledger
 * lines it may have waiting ahead of a gap. Anything over a limit is refused with a reason that names the device,
 * the limit and its config key; the genuine gateway gets it again from its next hello, so a refusal costs a resend,
 * never evidence. The defaults are chosen so that a genuine gateway never meets them (see DEFAULT_LIMITS).
 * Ages of partial files are kept by partial-sweep.ts.
 */
import { one, type Queryable, type ReceiverSql } from './receiver-sql.js';
import type { ChunkHeader } from '../uplink/wire.js';

export interface LimitsConfig {
  /** The most bytes a file may declare while its manifest is not stored. */
  fileMiB: number;
  /** Declared bytes of a device's partial files without a stored manifest, together. */
  unmanifestedMiB: number;
  /** How many such files a device may have at once. */
  unmanifestedFiles: number;
  /** Such a partial file not written for this long is discarded, with its rows. */
  unmanifestedHours: number;
  /** A partial file whose manifest is stored, not written for this long, is discarded with its rows. */
  unfinishedHours: number;
  /** Ledger lines a device may have held ahead of a gap, and their bytes. */
  heldLines: number;
  heldMiB: number;
  /** How far past the stored ledger's last seq a held line's seq may be. */
  heldAhead: number;
}

/**
 * Defaults from what a genuine gateway does (src/config/schema.ts, src/uplink/uploader.ts):
 * - fileMiB 8192: the largest segment the recorder config allows is 50,000 kbit/s for 600 s plus 120 s of
 *   pre-event, 4.5 GB; twice the size of a 600 s segment at that rate, for cameras whose bitrate overshoots.
 * - unmanifestedMiB 8192, unmanifestedFiles 1024: a gateway sends a file's manifest before the file; a file arrives
 *   before its manifest only when another receiver is still storing the manifest, or its entries message was
 *   lost, until the next hello. In that time it sends at most the files of one round: 32 MiB awaiting receipts
 *   plus one more file (one of 4.5 GB at most), of the at most 256 files a hello lists.
 * - unmanifestedHours 24: that lasts until the next hello (uplink.answerTimeoutSeconds, at most 600 s); a vehicle
 *   that leaves coverage meanwhile resends the file from its start when it is back.
 * - unfinishedHours 720: the longest upload deadline (uplink.deadlineHours at most 720).
 * - heldLines, heldAhead 200,000, heldMiB 512: lines wait ahead of a gap only when an entries message was lost or
 *   overtaken; then at most the rest of that round waits, which is the whole backlog of a vehicle back in coverage.
 *   A week of config/vehicle.json recording around the clock is 3 sources x 8,640 ten-second segments a day x 7
 *   = 181,440 manifests of about 2 KiB (430 MiB), plus a few session entries.
 */
export const DEFAULT_LIMITS: Readonly<LimitsConfig> = {
  fileMiB: 8192,
  unmanifestedMiB: 8192,
  unmanifestedFiles: 1024,
  unmanifestedHours: 24,
  unfinishedHours: 720,
  heldLines: 200_000,
  heldMiB: 512,
  heldAhead: 200_000,
};

const count = (d: number) => ({ type: 'integer', minimum: 1, default: d }) as const;
const hoursKey = (d: number) => ({ type: 'number', exclusiveMinimum: 0, default: d }) as const;

/** The receiver config's `limits` section (config.ts); every key may be left out for its default. */
export const limitsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    fileMiB: count(DEFAULT_LIMITS.fileMiB),
    unmanifestedMiB: count(DEFAULT_LIMITS.unmanifestedMiB),
    unmanifestedFiles: count(DEFAULT_LIMITS.unmanifestedFiles),
    unmanifestedHours: hoursKey(DEFAULT_LIMITS.unmanifestedHours),
    unfinishedHours: hoursKey(DEFAULT_LIMITS.unfinishedHours),
    heldLines: count(DEFAULT_LIMITS.heldLines),
    heldMiB: count(DEFAULT_LIMITS.heldMiB),
    heldAhead: count(DEFAULT_LIMITS.heldAhead),
  },
} as const;

/**
 * A chunk shorter than this must end its file: the smallest `uplink.chunkKiB`, so every chunk a gateway sends is
 * at least this long or its file's last piece. Without it one byte per chunk would cost a row of receiver.db each.
 */
export const MIN_CHUNK = 16 * 1024;

const MiB = 1024 * 1024;
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
const hours = (h: number): string => `${Number(h.toPrecision(3))} h`;
const RAISE = 'raise it in the receiver config if a genuine gateway reaches it';

export class DeviceLimits {
  constructor(
    private readonly sql: ReceiverSql,
    readonly config: LimitsConfig,
  ) {}

  /**
   * Why a chunk is refused, or undefined to take it. `manifested`: its file's manifest is stored (the chunk was
   * checked against it); `known`: the file has a row already (its declared size is counted).
   */
  async chunk(h: ChunkHeader, len: number, manifested: boolean, known: boolean): Promise<string | undefined> {
    const c = this.config;
    if (len < MIN_CHUNK && h.offset + len !== h.size) {
      return `a chunk of ${len} bytes at offset ${h.offset} of ${h.name} does not reach the file's end (${h.size}): chunks are at least ${MIN_CHUNK} bytes except a file's last piece (uplink-protocol.md §3)`;
    }
    if (manifested || known) return undefined;
    if (h.size > c.fileMiB * MiB) {
      return `${h.name} declares ${h.size} bytes while its manifest is not stored, more than limits.fileMiB (${c.fileMiB} MiB) allows; ${RAISE}`;
    }
    const u = await this.unmanifested(h.device);
    if (u.files + 1 > c.unmanifestedFiles) {
      return `device ${h.device} already has ${u.files} partial files without a stored manifest, the most limits.unmanifestedFiles (${c.unmanifestedFiles}) allows: ${h.name} is refused until their manifests come or they are discarded after limits.unmanifestedHours (${hours(c.unmanifestedHours)}); ${RAISE}`;
    }
    if (u.bytes + h.size > c.unmanifestedMiB * MiB) {
      return `device ${h.device} holds ${mib(u.bytes)} MiB of partial files without a stored manifest, and ${h.name} (${mib(h.size)} MiB) would pass limits.unmanifestedMiB (${c.unmanifestedMiB} MiB): refused until their manifests come or they are discarded after limits.unmanifestedHours (${hours(c.unmanifestedHours)}); ${RAISE}`;
    }
    return undefined;
  }

  /** A device's partial files without a stored manifest: how many, and the bytes they declare. */
  async unmanifested(device: string): Promise<{ files: number; bytes: number }> {
    // PostgreSQL sums BIGINTs into a NUMERIC, which its driver gives as text.
    const r = await one<{ files: number; bytes: number }>(
      this.sql,
      `SELECT COUNT(*) AS files, CAST(COALESCE(SUM(f.size), 0) AS BIGINT) AS bytes FROM files f
       WHERE f.device = $1 AND f.state = 'partial' AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.device = f.device AND m.name = f.name)`,
      [device],
    );
    return r!;
  }

  /** What the device has held ahead of a gap (`q`: the caller's transaction, when in one). */
  async held(device: string, q: Queryable = this.sql): Promise<{ lines: number; bytes: number }> {
    return (await one<{ lines: number; bytes: number }>(q, 'SELECT lines, bytes FROM held_totals WHERE device = $1', [device])) ?? { lines: 0, bytes: 0 };
  }

  /**
   * A gate for the lines of one entries message, given the stored ledger's last seq (-1 when none), read in the
   * ingest's transaction `tx`: on PostgreSQL, a statement on another connection while holding one could wait for ever
   * for a connection of a pool that transactions like it hold.
   */
  async heldGate(device: string, storedSeq: number, tx: Queryable): Promise<HeldGate> {
    return new HeldGate(device, storedSeq, await this.held(device, tx), this.config);
  }
}

/**
 * Decides line by line whether an entries message's lines may be held. Lines that continue the stored ledger in
 * an unbroken run from its end are always taken: they are appended at once rather than held, so a device whose
 * held lines are at a limit still moves on when its gateway resends from the gap.
 */
export class HeldGate {
  private next: number;
  private refusedCount = 0;
  private first = Infinity;
  private last = -Infinity;
  private why: string | undefined;

  constructor(
    private readonly device: string,
    private readonly storedSeq: number,
    private readonly totals: { lines: number; bytes: number },
    private readonly c: LimitsConfig,
  ) {
    this.next = storedSeq + 1;
  }

  admit(seq: number, bytes: number): boolean {
    if (seq === this.next) {
      this.next++;
      return true;
    }
    const why = this.problem(seq, bytes);
    if (!why) {
      this.totals.lines++;
      this.totals.bytes += bytes;
      return true;
    }
    this.refusedCount++;
    this.first = Math.min(this.first, seq);
    this.last = Math.max(this.last, seq);
    this.why ??= why;
    return false;
  }

  private problem(seq: number, bytes: number): string | undefined {
    const { c, device } = this;
    if (seq - this.storedSeq > c.heldAhead) {
      return `seq ${seq} is ${seq - this.storedSeq} past the stored ledger of ${device} (seq ${this.storedSeq}), more than limits.heldAhead (${c.heldAhead}) allows`;
    }
    if (this.totals.lines + 1 > c.heldLines) return `${device} already holds ${this.totals.lines} lines ahead of a gap, the most limits.heldLines (${c.heldLines}) allows`;
    if (this.totals.bytes + bytes > c.heldMiB * MiB) return `${device} already holds ${mib(this.totals.bytes)} MiB of lines ahead of a gap, and limits.heldMiB is ${c.heldMiB}`;
    return undefined;
  }

  /** What was refused, for one log line per message; undefined when nothing was. */
  refused(): { lines: number; seqs: string; problem: string } | undefined {
    if (this.refusedCount === 0) return undefined;
    const seqs = this.first === this.last ? `${this.first}` : `${this.first}..${this.last}`;
    return { lines: this.refusedCount, seqs, problem: `${this.why}: not held; the gateway sends them again after its next hello; ${RAISE}` };
  }
}
