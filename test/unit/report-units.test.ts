/**
 * The units file (src/report/units.ts): problems named with the unit and the fix, and a unit's figures as its devices'
 * added up, every figure, with reasons merged in code order and the devices no unit lists in a row of their own.
 */
import { describe, expect, it } from 'vitest';
import { addTotals, parseUnits, unitRows, type CountTotals } from '../../src/report/units.js';

const totals = (n: number, reasons: [string, number][]): CountTotals => ({
  sessions: n,
  unclosed: 1,
  recorded: { seconds: n * 0.1, cameraSessions: n, microphoneSessions: 0, noFootageSessions: 0 },
  interruptions: { total: reasons.reduce((a, [, c]) => a + c, 0), byReason: reasons.map(([reason, count]) => ({ reason, zh: null, count })) },
  terminated: { sessions: 1, statementMissing: 1 },
  unexplained: { sessions: 0, statementMissing: 0 },
  uploads: { onTime: n, late: 1 },
  clock: { unsynchronisedSegments: 2, assumedSegments: 0, sessions: 1 },
});

describe('units', () => {
  it('names each problem with the unit and the fix', () => {
    const p = (v: unknown): string => {
      try {
        parseUnits(JSON.stringify(v), 'units.json');
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(p([])).toMatch(/holds no "units" list: write \{"units"/);
    expect(p({ units: [{ devices: [] }] })).toMatch(/unit 1 has no "name"/);
    expect(p({ units: [{ name: 'A', devices: [] }, { name: 'A', devices: [] }] })).toMatch(/the unit "A" is listed twice/);
    expect(p({ units: [{ name: 'A', devices: 'room-1' }] })).toMatch(/the unit "A" has no "devices" list of device IDs/);
    expect(p({ units: [{ name: 'A', devices: ['room-1'] }, { name: 'B', devices: ['room-1'] }] })).toMatch(/the device room-1 is listed under "A" and "B": a device belongs to one unit/);
    expect(() => parseUnits('{', 'units.json')).toThrow(/units\.json: is not JSON/);
  });

  it("adds a unit's devices up, and keeps the devices of no unit in a row of their own", () => {
    const units = parseUnits(JSON.stringify({ units: [{ name: '朝阳分局', devices: ['a', 'b'] }, { name: '空', devices: ['x'] }] }), 'u');
    const devices = [
      { deviceId: 'a', totals: totals(3, [['low-battery', 1], ['device-fault', 2]]) },
      { deviceId: 'b', totals: totals(1, [['device-fault', 1]]) },
      { deviceId: 'c', totals: totals(2, []) },
    ];
    const rows = unitRows(units, devices);
    expect(rows.map((r) => [r.unit, r.devices.map((d) => d.deviceId)])).toEqual([['朝阳分局', ['a', 'b']], ['空', []], [null, ['c']]]);
    expect(rows[0]!.totals).toEqual({
      sessions: 4,
      unclosed: 2,
      recorded: { seconds: 0.4, cameraSessions: 4, microphoneSessions: 0, noFootageSessions: 0 },
      interruptions: { total: 4, byReason: [{ reason: 'device-fault', zh: null, count: 3 }, { reason: 'low-battery', zh: null, count: 1 }] },
      terminated: { sessions: 2, statementMissing: 2 },
      unexplained: { sessions: 0, statementMissing: 0 },
      uploads: { onTime: 4, late: 2 },
      clock: { unsynchronisedSegments: 4, assumedSegments: 0, sessions: 2 },
    });
    expect(rows[1]!.totals.sessions).toBe(0);
    // Every row together is the whole.
    const whole = devices.reduce((t, d) => addTotals(t, d.totals), rows[1]!.totals);
    expect(rows.reduce((t, r) => addTotals(t, r.totals), rows[1]!.totals)).toEqual(whole);
  });
});
