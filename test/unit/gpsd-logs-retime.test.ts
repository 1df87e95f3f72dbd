/** The test helper that dates a receiver's NMEA log today changes the time, date and checksum, and nothing else. */
import { describe, expect, it } from 'vitest';
import { firstFixCycle, nmeaCycles, retime } from '../helpers/gpsd-logs.js';

const T = new Date('2026-12-06T23:41:07.456Z');

describe('retime', () => {
  it('rewrites time and date fields (keeping their precision) and the checksum; the rest stays byte for byte', () => {
    expect(retime('$GNRMC,074155.799,A,3114.8770,N,12135.2463,E,0.30,4.94,250215,,,A*76', T)).toBe('$GNRMC,234107.456,A,3114.8770,N,12135.2463,E,0.30,4.94,061226,,,A*77');
    expect(retime('$GPGGA,175504.00,3825.60966,N,02708.53787,E,1,07,1.24,58.1,M,37.7,M,,*61', T)).toBe('$GPGGA,234107.45,3825.60966,N,02708.53787,E,1,07,1.24,58.1,M,37.7,M,,*61');
    expect(retime('$GPZDA,175503.00,11,12,2006,00,00*64', T)).toBe('$GPZDA,234107.45,06,12,2026,00,00*67');
    expect(retime('$GPGLL,3825.60966,N,02708.53787,E,175504.00,A,A*6B', T)).toBe('$GPGLL,3825.60966,N,02708.53787,E,234107.45,A,A*6B');
    expect(retime(' $GNRMC,074157.799,A,3114.8902,N,12135.2443,E,0.32,4.94,250215,,,A*7F', T)).toMatch(/^ \$GNRMC,234107\.456,A,3114\.8902,.*,061226,,,A\*[0-9A-F]{2}$/);
    // No time in it, or a checksum already wrong: unchanged.
    expect(retime('$BDGSA,A,1,,,,,,,,,,,,,,,,*23', T)).toBe('$BDGSA,A,1,,,,,,,,,,,,,,,,*23');
    expect(retime('$GNRMC,074155.799,A,3114.8770,N,12135.2463,E,0.30,4.94,250215,,,A*00', T)).toBe('$GNRMC,074155.799,A,3114.8770,N,12135.2463,E,0.30,4.94,250215,,,A*00');
    // Empty time and date (no fix yet) stay empty.
    expect(retime('$GNRMC,,V,,,,,,,,,,N*4D', T)).toBe('$GNRMC,,V,,,,,,,,,,N*4D');
  });

  it('groups a log into the receiver cycles, and finds where the fix begins', () => {
    const cycles = nmeaCycles('beidou-bd.log');
    expect(cycles).toHaveLength(10); // ten seconds, 074150 to 074159
    expect(cycles.every((c) => c.some((l) => l.includes('RMC')))).toBe(true);
    expect(firstFixCycle(cycles)).toBe(5); // the receiver reports status A from 074155
    expect(nmeaCycles('ublox-lea-4s.log').map((c) => c.length)).toEqual([1, 9, 9, 8]);
  });
});
