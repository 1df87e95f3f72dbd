/** The fix-time sanity check: fixes dated away from the gateway clock are refused, logged once per episode, counted. */
import { describe, expect, it } from 'vitest';
import { describeFixOffset, describeOffset, FixTimeCheck, fixTimeTolerance } from '../../src/hal/gps/fix-time.js';
import { validateConfig } from '../../src/config/load.js';
import { healthSummary } from '../../src/app/health.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';
import { createLogger } from '../../src/util/log.js';
import { refusedFixes } from '../../src/console/routes/status.js';
import { translator } from '../../src/console/i18n.js';

function captured(): { log: ReturnType<typeof createLogger>; lines: { level: string; msg: string; [k: string]: unknown }[] } {
  const lines: { level: string; msg: string }[] = [];
  return { lines, log: createLogger('test', { level: 'debug', sink: (l) => lines.push(JSON.parse(l)) }) };
}

const NOW = Date.parse('2026-12-06T10:00:00.000Z');
const at = (offsetMs: number): [string, number] => [new Date(NOW + offsetMs).toISOString(), NOW + offsetMs];
// gpsd 3.22's week-rollover correction moved the BeiDou log's 2015-02-25 to this date.
const ROLLED = '2034-10-11T07:41:56.799Z';

describe('FixTimeCheck', () => {
  it('accepts fixes within the tolerance either way, and refuses those beyond it', () => {
    const { log } = captured();
    const c = new FixTimeCheck(5_000, log);
    expect(c.check(...at(-4_999), NOW)).toEqual({ ok: true, offsetMs: -4_999 });
    expect(c.check(...at(5_000), NOW)).toEqual({ ok: true, offsetMs: 5_000 });
    expect(c.check(...at(5_001), NOW)).toEqual({ ok: false, offsetMs: 5_001 });
    expect(c.check(...at(-5_001), NOW).ok).toBe(false);
    expect(c.check(ROLLED, Date.parse(ROLLED), NOW).ok).toBe(false);
  });

  it('logs once per episode, not per fix; the episode ends when a fix agrees again or the connection ends', () => {
    const { log, lines } = captured();
    const c = new FixTimeCheck(5_000, log, { gpsd: 'x:1' });
    for (let i = 0; i < 50; i++) c.check(new Date(Date.parse(ROLLED) + i * 200).toISOString(), Date.parse(ROLLED) + i * 200, NOW + i * 200);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', gpsd: 'x:1', fixTime: ROLLED, clockTime: new Date(NOW).toISOString(), toleranceMs: 5_000 });
    expect(lines[0]!.msg).toContain('7.8 years ahead of the gateway clock');
    expect(c.status()).toEqual({
      toleranceMs: 5_000,
      refused: 50,
      refusing: { since: new Date(NOW).toISOString(), fixes: 50, lastFixTime: new Date(Date.parse(ROLLED) + 49 * 200).toISOString(), offsetMs: Date.parse(ROLLED) - NOW },
    });

    c.check(...at(300), NOW); // agrees: the episode ends, with one info line saying how many were refused
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 'info', refused: 50 });
    expect(c.status()).toMatchObject({ refused: 50, refusing: null });

    // A second episode (a receiver an hour behind), ended by the connection closing.
    c.check(...at(-3_600_000), NOW);
    c.check(...at(-3_600_000), NOW);
    c.reset('the connection to gpsd ended');
    c.reset('again: nothing to end');
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info', 'warn', 'info']);
    expect(lines[2]!.msg).toContain('1.0 h behind the gateway clock');
    expect(lines[3]).toMatchObject({ refused: 2, msg: expect.stringContaining('connection to gpsd ended') });
    expect(c.status()).toEqual({ toleranceMs: 5_000, refused: 52, refusing: null });
  });

  it('describes offsets in units people read', () => {
    expect(describeOffset(1_234)).toBe('1.2 s');
    expect(describeOffset(-210_000)).toBe('3.5 min');
    expect(describeOffset(7_200_000)).toBe('2.0 h');
    expect(describeOffset(12 * 86_400_000)).toBe('12 days');
    expect(describeFixOffset(-1024 * 7 * 86_400_000)).toBe('19.6 years behind the gateway clock');
    expect(() => new FixTimeCheck(0, captured().log)).toThrow(/positive/);
  });
});

describe('the tolerance in config', () => {
  const base = {
    deviceId: 'car-1',
    installation: 'vehicle',
    stateDir: './state',
    agency: { caCert: 'ca.pem', encryptionCert: 'agency-enc.pem' },
    recording: { sources: [{ id: 'cam1', kind: 'camera', driver: 'sim' }] },
  };
  const config = (extra: Record<string, unknown>): Record<string, unknown> & { gps: { fixTimeToleranceMs: number }; time: { maxOffsetMs: number } } => {
    const c = { ...structuredClone(base), ...extra };
    expect(validateConfig(c)).toEqual([]);
    return c as unknown as ReturnType<typeof config>;
  };

  it('defaults to 5 s, takes another value in range, and is never tighter than the clock\'s own allowed offset', () => {
    const d = config({ gps: {} });
    expect(d.gps.fixTimeToleranceMs).toBe(5_000);
    expect(fixTimeTolerance(d.gps, d.time)).toBe(5_000);
    const wide = config({ gps: { fixTimeToleranceMs: 30_000 } });
    expect(fixTimeTolerance(wide.gps, wide.time)).toBe(30_000);
    // A clock allowed 20 s off counts as synchronised at 20 s: its GPS fixes must not be refused at 5 s.
    const loose = config({ gps: {}, time: { maxOffsetMs: 20_000 } });
    expect(fixTimeTolerance(loose.gps, loose.time)).toBe(20_000);
    expect(validateConfig({ ...structuredClone(base), gps: { fixTimeToleranceMs: 500 } })).toEqual([expect.objectContaining({ key: 'gps.fixTimeToleranceMs' })]);
  });
});

describe('the health line with a GPS', () => {
  const status = {
    deviceId: 'x',
    session: null,
    lackingStatement: [],
    sources: [],
    storage: { freeBytes: 10e9, usedBytes: 1e9, quotaBytes: null, full: false },
    clock: { source: 'system', synced: true },
    battery: null,
    gps: null,
    sealing: { pending: 0 },
  } as RecorderStatus;

  it('names refused fixes as a problem, with the offset, and counts them', () => {
    const refusing = { since: '2026-12-06T10:00:00.000Z', fixes: 12, lastFixTime: ROLLED, offsetMs: Date.parse(ROLLED) - NOW };
    const h = healthSummary({ status, queue: undefined, fs: null, gpsd: { connected: true, fix: null, fixTime: { toleranceMs: 5_000, refused: 12, refusing } }, now: NOW });
    expect(h.gps).toEqual({ connected: true, mode: null, refusedFixes: 12, refusing });
    expect(h.problems).toEqual(['GPS fixes refused since 2026-12-06T10:00:00.000Z: their time is 7.8 years ahead of the gateway clock']);

    const fix = { lat: 31.2, lon: 121.5, mode: 3, time: new Date(NOW).toISOString() };
    const ok = healthSummary({ status, queue: undefined, fs: null, gpsd: { connected: true, fix, fixTime: { toleranceMs: 5_000, refused: 12, refusing: null } }, now: NOW });
    expect(ok.gps).toEqual({ connected: true, mode: 3, refusedFixes: 12 });
    expect(ok.problems).toEqual([]);
  });
});

describe('the console overview with refused fixes', () => {
  it('says in the reader\'s language since when, which fix time, how far off and how many; nothing when none', () => {
    type Ctx = Parameters<typeof refusedFixes>[0];
    const r = { since: '2026-12-06T10:00:00.000Z', fixes: 12, lastFixTime: ROLLED, offsetMs: Date.parse(ROLLED) - NOW };
    const zh = String(refusedFixes({ lang: 'zh-CN', t: translator('zh-CN') } as Ctx, r));
    // Times for people in Beijing time (UTC+8).
    expect(zh).toContain('自 2026-12-06 18:00:00 (北京时间 UTC+08:00) 起：定位时间 2034-10-11 15:41:56 (北京时间 UTC+08:00) 与网关时钟相差 247,614,117 秒');
    expect(zh).toContain('已拒用 12 次');
    const en = String(refusedFixes({ lang: 'en', t: translator('en') } as Ctx, r));
    expect(en).toContain('is 247,614,117 s from the gateway clock');
    expect(refusedFixes({ lang: 'en', t: translator('en') } as Ctx, undefined)).toBe('');
  });
});
