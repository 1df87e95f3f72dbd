import { describe, expect, it } from 'vitest';
import { isKnownZone, localClock, localTime } from '../../src/util/local-time.js';
import { parseWrittenTime } from '../../src/util/written-time.js';

const at = Date.parse('2026-12-07T02:05:03.400Z');

describe('times for people', () => {
  it('shows Beijing time by default with the zone named, and other zones by their offset at that instant', () => {
    expect(localTime(at)).toBe('2026-12-07 10:05:03 (北京时间 UTC+08:00)');
    expect(localTime(new Date(at).toISOString(), 'UTC')).toBe('2026-12-07 02:05:03 (UTC UTC+00:00)');
    // Berlin keeps daylight saving: +01:00 in December, +02:00 in July.
    expect(localTime(at, 'Europe/Berlin')).toBe('2026-12-07 03:05:03 (Europe/Berlin UTC+01:00)');
    expect(localTime('2026-07-01T00:00:00Z', 'Europe/Berlin')).toBe('2026-07-01 02:00:00 (Europe/Berlin UTC+02:00)');
    // Midnight is 00, not 24 (hourCycle h23).
    expect(localClock('2026-12-06T16:00:00Z')).toBe('2026-12-07 00:00:00');
    expect(localTime('not a time')).toBe('not a time');
    expect(isKnownZone('Asia/Shanghai')).toBe(true);
    expect(isKnownZone('Mars/Olympus')).toBe(false);
  });
});

describe('a time as written in a record', () => {
  const bj = (iso: string): number => Date.parse(iso);
  it('reads the ways officers write it, to the minute or the second, in the zone', () => {
    expect(parseWrittenTime('2026年12月7日10时05分', 'Asia/Shanghai')).toEqual({ ms: bj('2026-12-07T02:05:00Z'), precisionMs: 60_000 });
    expect(parseWrittenTime('2026年12月7日 10时05分30秒', 'Asia/Shanghai')).toEqual({ ms: bj('2026-12-07T02:05:30Z'), precisionMs: 1000 });
    expect(parseWrittenTime(' 2026-12-07 10:05 ', 'Asia/Shanghai')).toEqual({ ms: bj('2026-12-07T02:05:00Z'), precisionMs: 60_000 });
    expect(parseWrittenTime('2026/12/07 10：05：09', 'Asia/Shanghai')).toEqual({ ms: bj('2026-12-07T02:05:09Z'), precisionMs: 1000 });
    expect(parseWrittenTime('2026-12-07T10:05:09+08:00', 'UTC')).toEqual({ ms: bj('2026-12-07T02:05:09Z'), precisionMs: 1000 });
    expect(parseWrittenTime('2026-12-07T02:05Z', 'Asia/Shanghai')).toEqual({ ms: bj('2026-12-07T02:05:00Z'), precisionMs: 60_000 });
  });
  it('refuses what is not a time, a day that does not exist, and a wall time a clock jumped over', () => {
    expect(() => parseWrittenTime('ten past ten', 'Asia/Shanghai')).toThrow(/write it as 2026-12-07 10:05/);
    expect(() => parseWrittenTime('2026-02-30 10:05', 'Asia/Shanghai')).toThrow(/not a time in Asia\/Shanghai/);
    expect(() => parseWrittenTime('2026-12-07 25:05', 'Asia/Shanghai')).toThrow(/not a time in/);
    expect(() => parseWrittenTime('2026-03-08 02:30', 'America/New_York')).toThrow(/never happened in America\/New_York/);
  });
});
