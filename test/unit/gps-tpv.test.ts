/** gpsd TPV reports to GpsFix (pure), and the gpsd address from config. The socket side is in test/integration/gpsd. */
import { describe, expect, it } from 'vitest';
import { parseGpsdAddress, parseTpv } from '../../src/hal/gps/gpsd-client.js';

// A TPV as gpsd 3.22 prints it for an NMEA receiver with a 3D fix (captured from gpsd on the build machine).
const TPV3 = {
  class: 'TPV',
  device: 'tcp://127.0.0.1:40123',
  mode: 3,
  time: '2026-11-26T12:15:00.990Z',
  ept: 0.005,
  lat: 39.9,
  lon: 116.4,
  altHAE: 45.0,
  altMSL: 45.0,
  alt: 45.0,
  track: 0.0,
  magtrack: 353.0543,
  magvar: -6.9,
  speed: 0.0,
  climb: 0.0,
  geoidSep: 0.0,
  eph: 17.1,
};

describe('parseTpv', () => {
  it('takes a 3D fix with altitude above sea level and eph', () => {
    expect(parseTpv(TPV3)).toEqual({
      kind: 'fix',
      fix: { lat: 39.9, lon: 116.4, alt: 45, mode: 3, eph: 17.1, time: '2026-11-26T12:15:00.990Z' },
      timeMs: Date.parse('2026-11-26T12:15:00.990Z'),
    });
    // altMSL wins over altHAE (ellipsoid height differs by the geoid separation, tens of metres).
    const r = parseTpv({ ...TPV3, altMSL: 12.5, altHAE: 40.1, alt: undefined });
    expect(r.kind === 'fix' && r.fix.alt).toBe(12.5);
  });

  it('takes a 2D fix without altitude; eph falls back to the larger of epx and epy', () => {
    const r = parseTpv({ class: 'TPV', mode: 2, lat: -33.8688, lon: 151.2093, epx: 8.2, epy: 11.7, time: '2026-01-02T03:04:05Z', alt: 99 });
    expect(r).toEqual({ kind: 'fix', fix: { lat: -33.8688, lon: 151.2093, mode: 2, eph: 11.7, time: '2026-01-02T03:04:05.000Z' }, timeMs: Date.parse('2026-01-02T03:04:05Z') });
  });

  it('reports no fix for mode 0/1, and a position without time as fix-without-time', () => {
    expect(parseTpv({ class: 'TPV', device: 'x', mode: 1 })).toEqual({ kind: 'no-fix' });
    expect(parseTpv({ class: 'TPV', mode: 0, time: '2026-01-02T03:04:05Z' })).toEqual({ kind: 'no-fix' });
    // gpsd 3.22 prints this for GGA quality 0 / RMC V sentences that still carry a position.
    expect(parseTpv({ class: 'TPV', mode: 3, lat: 39.9, lon: 116.4, altMSL: 45, eph: 17.1 })).toEqual({ kind: 'fix-without-time' });
  });

  it('rejects nonsense numbers', () => {
    const bad = (o: Record<string, unknown>): string => {
      const r = parseTpv({ ...TPV3, ...o });
      return r.kind === 'bad' ? r.why : r.kind;
    };
    expect(bad({ mode: '3' })).toMatch(/^mode/);
    expect(bad({ mode: 4 })).toMatch(/^mode/);
    expect(bad({ mode: 2.5 })).toMatch(/^mode/);
    expect(bad({ lat: 91 })).toMatch(/^lat/);
    expect(bad({ lat: '39.9' })).toMatch(/^lat/);
    expect(bad({ lon: -180.5 })).toMatch(/^lon/);
    expect(bad({ lat: undefined })).toMatch(/^lat/);
    expect(bad({ altMSL: 1e9 })).toMatch(/^alt/);
    expect(bad({ eph: -1 })).toMatch(/^eph/);
    expect(bad({ epx: 'wide' })).toMatch(/^epx/);
    expect(bad({ time: 'yesterday' })).toMatch(/^time/);
    expect(bad({ time: '2026-13-45T99:00:00Z' })).toMatch(/^time/);
    expect(bad({ time: 1795695300 })).toMatch(/^time/);
  });
});

describe('parseGpsdAddress', () => {
  it('reads host:port as config gps.gpsd holds it', () => {
    expect(parseGpsdAddress('127.0.0.1:2947')).toEqual({ host: '127.0.0.1', port: 2947 });
    expect(parseGpsdAddress('gps.local:2947')).toEqual({ host: 'gps.local', port: 2947 });
    expect(() => parseGpsdAddress('127.0.0.1')).toThrow(/host:port/);
    expect(() => parseGpsdAddress('127.0.0.1:0')).toThrow(/host:port/);
    expect(() => parseGpsdAddress('127.0.0.1:70000')).toThrow(/host:port/);
  });
});
