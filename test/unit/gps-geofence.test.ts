/** The home-base geofence (pure): distances, and hysteresis that keeps GPS jitter at the edge from flapping. */
import { describe, expect, it } from 'vitest';
import { Geofence, haversineM } from '../../src/hal/gps/geofence.js';
import type { GpsFix } from '../../src/evidence/types.js';

const BASE = { lat: 39.9087, lon: 116.3975, radiusM: 100 };
const T0 = Date.parse('2026-05-01T08:00:00Z');
/** A fix `m` metres north of the base, `s` seconds after T0. */
const at = (m: number, s: number, extra: Partial<GpsFix> = {}): GpsFix => ({
  lat: BASE.lat + m / 111_195,
  lon: BASE.lon,
  mode: 3,
  time: new Date(T0 + s * 1000).toISOString(),
  ...extra,
});

describe('haversineM', () => {
  it('gives known distances', () => {
    expect(haversineM({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(111_195, -1); // 1° of a meridian
    expect(haversineM({ lat: 0, lon: 0 }, { lat: 0, lon: 1 })).toBeCloseTo(111_195, -1); // 1° of the equator
    expect(haversineM({ lat: 60, lon: 0 }, { lat: 60, lon: 1 })).toBeCloseTo(55_597, -1); // cos 60° = 1/2
    // Beijing (Tiananmen) to Shanghai (People's Square): about 1067 km.
    const d = haversineM({ lat: 39.9087, lon: 116.3975 }, { lat: 31.2304, lon: 121.4737 });
    expect(d / 1000).toBeGreaterThan(1060);
    expect(d / 1000).toBeLessThan(1075);
    expect(haversineM(BASE, BASE)).toBe(0);
    // Antipodes: half the circumference, no NaN from rounding past 1 inside asin.
    expect(haversineM({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(Math.PI * 6_371_008.8, -1);
  });
});

describe('Geofence', () => {
  it('settles the initial state after N fixes over confirmMs, flagged initial', () => {
    const g = new Geofence(BASE, { confirmFixes: 3, confirmMs: 2000 });
    expect(g.state()).toBe('unknown');
    expect(g.update(at(10, 0))).toBeNull();
    expect(g.update(at(10, 1))).toBeNull();
    const ev = g.update(at(10, 2));
    expect(ev).toMatchObject({ type: 'entered', initial: true, at: new Date(T0 + 2000).toISOString() });
    expect(ev?.distanceM).toBeCloseTo(10, 0);
    expect(g.state()).toBe('inside');

    const g2 = new Geofence(BASE, { confirmFixes: 3, confirmMs: 2000 });
    g2.update(at(5000, 0));
    g2.update(at(5000, 1));
    expect(g2.update(at(5000, 2))).toMatchObject({ type: 'left', initial: true });
  });

  it('leaves only beyond radius × 1.2 and enters only inside the radius', () => {
    const g = new Geofence({ ...BASE, radiusM: 500 }, { confirmFixes: 2, confirmMs: 0 });
    expect(g.leaveDistanceM()).toBeCloseTo(600, 6);
    g.update(at(0, 0));
    expect(g.update(at(0, 1))?.type).toBe('entered');
    // 510 m and 599 m: outside the radius, inside the band: still home.
    for (let s = 2; s < 20; s++) expect(g.update(at(s % 2 ? 510 : 599, s))).toBeNull();
    expect(g.state()).toBe('inside');
    expect(g.update(at(605, 20))).toBeNull();
    expect(g.update(at(605, 21))).toMatchObject({ type: 'left', initial: false });
    // Coming back: the band (505 m) is not "entered"; 495 m is.
    for (let s = 22; s < 30; s++) expect(g.update(at(505, s))).toBeNull();
    expect(g.state()).toBe('outside');
    expect(g.update(at(495, 30))).toBeNull();
    expect(g.update(at(495, 31))).toMatchObject({ type: 'entered', initial: false });
  });

  it('keeps a band of at least 25 m for small fences, where × 1.2 would be a couple of metres', () => {
    const g = new Geofence({ ...BASE, radiusM: 10 }, { confirmFixes: 2, confirmMs: 0 });
    expect(g.leaveDistanceM()).toBe(35);
    g.update(at(0, 0));
    g.update(at(0, 1));
    for (let s = 2; s < 10; s++) expect(g.update(at(s % 2 ? 14 : 33, s))).toBeNull();
    g.update(at(40, 10));
    expect(g.update(at(40, 11))).toMatchObject({ type: 'left' });
  });

  it('uses the same rules with the default band on a 100 m fence', () => {
    const g = new Geofence(BASE, { confirmFixes: 2, confirmMs: 0 });
    g.update(at(0, 0));
    expect(g.update(at(0, 1))?.type).toBe('entered');
    for (let s = 2; s < 20; s++) expect(g.update(at(s % 2 ? 110 : 124, s))).toBeNull();
    expect(g.update(at(130, 20))).toBeNull();
    expect(g.update(at(130, 21))).toMatchObject({ type: 'left', initial: false });
    // Coming back: the band (105 m) is not "entered"; 95 m is.
    for (let s = 22; s < 30; s++) expect(g.update(at(105, s))).toBeNull();
    expect(g.state()).toBe('outside');
    expect(g.update(at(95, 30))).toBeNull();
    expect(g.update(at(95, 31))).toMatchObject({ type: 'entered', initial: false });
  });

  it('does not flap when jitter crosses the edge back and forth', () => {
    const g = new Geofence(BASE, { confirmFixes: 3, confirmMs: 2000 });
    for (let s = 0; s < 3; s++) g.update(at(50, s));
    expect(g.state()).toBe('inside');
    // Parked at the edge: ±20 m of jitter around 100 m, 1 Hz, for ten minutes, and a multipath outlier at 180 m
    // now and then (single fixes: not consecutive, so they do not count).
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1; // MINSTD: repeatable
    const events = [];
    for (let s = 3; s < 600; s++) {
      const m = s % 97 === 0 ? 180 : 100 + 20 * rnd();
      const ev = g.update(at(m, s));
      if (ev) events.push(ev);
    }
    expect(events).toEqual([]);
    expect(g.state()).toBe('inside');
  });

  it('needs the fixes to be consecutive and to span confirmMs', () => {
    const g = new Geofence(BASE, { confirmFixes: 3, confirmMs: 2000 });
    for (let s = 0; s < 3; s++) g.update(at(0, s));
    // Two far fixes, one back home (resets), then three far fixes within 0.5 s: not yet, span too short.
    g.update(at(1000, 10));
    g.update(at(1000, 11));
    g.update(at(0, 12));
    expect(g.update(at(1000, 13))).toBeNull();
    expect(g.update(at(1000, 13.2))).toBeNull();
    expect(g.update(at(1000, 13.4))).toBeNull();
    expect(g.update(at(1000, 14.9))).toBeNull(); // 1.9 s
    expect(g.update(at(1000, 15.0))).toMatchObject({ type: 'left' }); // 2.0 s and 5 fixes
  });

  it('ignores no-fix periods and inaccurate fixes; they neither confirm nor reset', () => {
    const g = new Geofence(BASE, { confirmFixes: 3, confirmMs: 0, maxEphM: 50 });
    for (let s = 0; s < 3; s++) g.update(at(0, s));
    expect(g.update(at(1000, 3))).toBeNull();
    expect(g.update(null)).toBeNull(); // a tunnel
    expect(g.update(at(0, 4, { eph: 400 }))).toBeNull(); // a wild fix claiming home, but ±400 m: says nothing
    expect(g.update(at(0, 5, { mode: 1 }))).toBeNull();
    expect(g.update(at(1000, 60))).toBeNull();
    expect(g.update(at(1000, 61))).toMatchObject({ type: 'left', initial: false });
  });

  it('rejects a nonsensical configuration', () => {
    expect(() => new Geofence({ ...BASE, radiusM: 0 })).toThrow(/radius/);
    expect(() => new Geofence(BASE, { leaveFactor: 0.5 })).toThrow(/leaveFactor/);
  });
});
