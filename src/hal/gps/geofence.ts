/**
 * The home-base geofence of a vehicle (pure: no I/O, no timers). Entering the base counts as "returned" for the
 * upload deadline rule, so a transition must be real: GPS jitters by metres to tens of metres, and a unit parked
 * at the edge must not flap in and out. Hence hysteresis in space (enter inside the radius, leave only beyond
 * radius × leaveFactor, and at least minBandM beyond the radius, since a 10 m fence × 1.2 would leave a 2 m band
 * against jitter of 5-15 m) and in time (N consecutive fixes on the new side, spanning at least confirmMs).
 */
import type { GpsFix } from '../../evidence/types.js';

export interface HomeBase {
  lat: number;
  lon: number;
  radiusM: number;
}

export interface GeofenceOptions {
  /** Leave only beyond radiusM × leaveFactor... Default 1.2. */
  leaveFactor?: number;
  /** ...and beyond radiusM + minBandM. Default 25 m (consumer GPS wanders by 5-15 m, more between buildings). */
  minBandM?: number;
  /** Consecutive fixes on the new side needed for a transition. Default 3. */
  confirmFixes?: number;
  /** ...which must also span at least this long (by fix time), so a 10 Hz receiver does not decide in 0.2 s. Default 2000. */
  confirmMs?: number;
  /** Fixes less accurate than this (eph, metres) say nothing either way. Default 200. */
  maxEphM?: number;
}

export type GeofenceState = 'inside' | 'outside' | 'unknown';

export interface GeofenceEvent {
  type: 'entered' | 'left';
  /** Fix time (ISO) of the fix that confirmed the transition. */
  at: string;
  fix: GpsFix;
  distanceM: number;
  /** The first determination after start (from unknown): the unit was already inside/outside, it did not move. */
  initial: boolean;
}

const EARTH_RADIUS_M = 6_371_008.8; // mean radius (IUGG)

/** Great-circle distance in metres (haversine; ample for fences from 10 m to 100 km). */
export function haversineM(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export class Geofence {
  private readonly leaveFactor: number;
  private readonly leaveM: number;
  private readonly confirmFixes: number;
  private readonly confirmMs: number;
  private readonly maxEphM: number;
  private current: GeofenceState = 'unknown';
  private pending: { side: 'inside' | 'outside'; count: number; firstMs: number } | null = null;

  constructor(
    readonly base: HomeBase,
    opts: GeofenceOptions = {},
  ) {
    this.leaveFactor = opts.leaveFactor ?? 1.2;
    this.confirmFixes = opts.confirmFixes ?? 3;
    this.confirmMs = opts.confirmMs ?? 2_000;
    this.maxEphM = opts.maxEphM ?? 200;
    this.leaveM = Math.max(base.radiusM * this.leaveFactor, base.radiusM + (opts.minBandM ?? 25));
    if (!(base.radiusM > 0)) throw new Error('geofence radius must be positive');
    if (!(this.leaveFactor >= 1)) throw new Error('geofence leaveFactor must be at least 1');
    if (!(this.confirmFixes >= 1)) throw new Error('geofence confirmFixes must be at least 1');
  }

  state(): GeofenceState {
    return this.current;
  }

  /** The distance beyond which the unit has left (the outer edge of the hysteresis band). */
  leaveDistanceM(): number {
    return this.leaveM;
  }

  distanceM(p: { lat: number; lon: number }): number {
    return haversineM(this.base, p);
  }

  /**
   * Feeds one fix; returns the transition it confirms, if any. null (no fix) and inaccurate fixes are ignored:
   * they neither confirm nor interrupt a pending transition, so a tunnel or a cold start changes nothing.
   */
  update(fix: GpsFix | null): GeofenceEvent | null {
    if (!fix || fix.mode < 2) return null;
    if (fix.eph !== undefined && fix.eph > this.maxEphM) return null;
    const t = Date.parse(fix.time);
    if (!Number.isFinite(t)) return null;
    const d = this.distanceM(fix);
    const side = this.sideOf(d);
    if (side === null || side === this.current) {
      // In the band between radius and radius × leaveFactor, or confirming where we are: nothing pending.
      this.pending = null;
      return null;
    }
    if (!this.pending || this.pending.side !== side) this.pending = { side, count: 0, firstMs: t };
    this.pending.count++;
    if (this.pending.count < this.confirmFixes || t - this.pending.firstMs < this.confirmMs) return null;
    const initial = this.current === 'unknown';
    this.current = side;
    this.pending = null;
    return { type: side === 'inside' ? 'entered' : 'left', at: fix.time, fix, distanceM: d, initial };
  }

  /** Which side a distance is clearly on, given the current state; null in the hysteresis band. */
  private sideOf(d: number): 'inside' | 'outside' | null {
    if (d <= this.base.radiusM) return 'inside';
    if (d > this.leaveM) return 'outside';
    // Unknown (just started) in the band: not at base; it counts as outside so that driving in later is "entered".
    return this.current === 'unknown' ? 'outside' : null;
  }
}
