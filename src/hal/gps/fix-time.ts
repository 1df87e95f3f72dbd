/**
 * The sanity check of a fix's time against the gateway clock. A manifest's `gps` is "the position at the time" of
 * its segment, and the fix's time is the only link between the two; a fix dated seconds, hours or years away from
 * the gateway clock is not the position at that time, whatever its coordinates say. Causes seen in the field and
 * in gpsd's own regression logs: GPS week-number rollover (1024 weeks) in a receiver or in gpsd, a receiver
 * reporting a stale cached fix after a cold start, and a gateway clock that is itself wrong.
 *
 * A refused fix is counted and shown in status; it is logged once per episode (a run of refused fixes that ends
 * when a fix agrees again or the connection to gpsd ends), never once per fix: a 5 Hz receiver would otherwise
 * write 18,000 lines an hour.
 */
import type { Logger } from '../../util/log.js';

/**
 * The default tolerance, ms. An NMEA receiver at 4800 baud (480 bytes/s) sends each cycle over 0.9-1.6 s (gpsd's
 * BeiDou, u-blox and SiRF NMEA logs: 410-760 bytes a cycle) and gpsd reports the fix when the cycle ends; the
 * gateway clock may be off by time.maxOffsetMs (500 ms) and still count as synchronised; a loaded Pi adds a
 * little. 5 s covers these with margin, and everything that makes a fix "not at the time" (rollover: 1024 weeks;
 * a stale cached fix: minutes to days) is far beyond it. Within it, the manifest's fix carries its own time, so a
 * reader sees any difference.
 */
export const DEFAULT_FIX_TIME_TOLERANCE_MS = 5_000;

/**
 * The tolerance in force: config gps.fixTimeToleranceMs, but never tighter than time.maxOffsetMs, or a clock that
 * counts as synchronised to GPS would have its own fixes refused.
 */
export function fixTimeTolerance(gps: { fixTimeToleranceMs: number }, time: { maxOffsetMs: number }): number {
  return Math.max(gps.fixTimeToleranceMs, time.maxOffsetMs);
}

export interface FixTimeStatus {
  /** A fix whose time differs from the gateway clock by more than this is refused. */
  toleranceMs: number;
  /** Fixes refused since start. */
  refused: number;
  /** While fixes are being refused: since when (gateway clock), how many, the latest one's time and its offset. */
  refusing: { since: string; fixes: number; lastFixTime: string; offsetMs: number } | null;
}

export type FixTimeVerdict = { ok: true; offsetMs: number } | { ok: false; offsetMs: number };

const YEAR = 365.25 * 86_400_000;

/** An offset for people: "1.2 s", "3.5 min", "2.0 h", "12 days", "7.9 years" (signless; the caller says which way). */
export function describeOffset(ms: number): string {
  const a = Math.abs(ms);
  if (a < 60_000) return `${(a / 1000).toFixed(1)} s`;
  if (a < 3_600_000) return `${(a / 60_000).toFixed(1)} min`;
  if (a < 2 * 86_400_000) return `${(a / 3_600_000).toFixed(1)} h`;
  if (a < YEAR) return `${Math.round(a / 86_400_000)} days`;
  return `${(a / YEAR).toFixed(1)} years`;
}

/** "7.9 years ahead of the gateway clock" / "1.2 s behind the gateway clock" for a fix time minus clock time. */
export function describeFixOffset(offsetMs: number): string {
  return `${describeOffset(offsetMs)} ${offsetMs >= 0 ? 'ahead of' : 'behind'} the gateway clock`;
}

export class FixTimeCheck {
  private refusedTotal = 0;
  private episode: { since: number; fixes: number; lastFixTime: string; offsetMs: number } | null = null;

  constructor(
    readonly toleranceMs: number,
    private readonly log: Logger,
    private readonly context: Record<string, unknown> = {},
  ) {
    if (!(toleranceMs > 0)) throw new Error(`fix time tolerance must be positive, not ${toleranceMs}`);
  }

  /** Judge one fix: its time (ISO and ms) against the gateway clock when it arrived (ms since the epoch). */
  check(fixTime: string, fixTimeMs: number, wallMs: number): FixTimeVerdict {
    const offsetMs = fixTimeMs - wallMs;
    if (Math.abs(offsetMs) <= this.toleranceMs) {
      if (this.episode) this.end('a fix agrees with the gateway clock again', { offsetMs });
      return { ok: true, offsetMs };
    }
    this.refusedTotal++;
    if (!this.episode) {
      this.episode = { since: wallMs, fixes: 0, lastFixTime: fixTime, offsetMs };
      this.log.warn(
        `refusing GPS fixes: their time is ${describeFixOffset(offsetMs)} (tolerance ${this.toleranceMs / 1000} s), so they are not the position at the time and manifests get none; the receiver's time is wrong (e.g. a GPS week-number rollover) or the gateway clock is (logged once until fixes agree again; counted in status)`,
        { ...this.context, fixTime, clockTime: new Date(wallMs).toISOString(), offsetMs, toleranceMs: this.toleranceMs },
      );
    }
    this.episode.fixes++;
    this.episode.lastFixTime = fixTime;
    this.episode.offsetMs = offsetMs;
    return { ok: false, offsetMs };
  }

  /** The connection to gpsd ended (or the client stopped): the next connection may be another receiver. */
  reset(why: string): void {
    if (this.episode) this.end(`no longer refusing GPS fixes: ${why}`, {});
  }

  status(): FixTimeStatus {
    const e = this.episode;
    return {
      toleranceMs: this.toleranceMs,
      refused: this.refusedTotal,
      refusing: e ? { since: new Date(e.since).toISOString(), fixes: e.fixes, lastFixTime: e.lastFixTime, offsetMs: e.offsetMs } : null,
    };
  }

  private end(msg: string, fields: Record<string, unknown>): void {
    const e = this.episode!;
    this.episode = null;
    this.log.info(msg, { ...this.context, ...fields, refused: e.fixes, since: new Date(e.since).toISOString(), lastRefusedFixTime: e.lastFixTime });
  }
}
