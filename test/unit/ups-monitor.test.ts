/**
 * The UPS line protocol and monitor without a serial port, on a test clock: readings become the BatteryMonitor
 * state, go stale when the UPS falls silent, and a falling charge on battery raises a warning before the minimum
 * is reached and a critical alarm at it, once per level until mains power returns. Garbage is logged, never thrown.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dischargePerMinute, encodeUpsLine, parseUpsLine, UpsMonitor, type UpsLink, type UpsRisk } from '../../src/hal/serial/ups.js';
import type { LinePort } from '../../src/hal/serial/line-port.js';
import type { BatteryMonitor } from '../../src/recorder/recorder.js';
import { frameLine } from '../../src/hal/serial/frame.js';
import { captureLogger } from '../helpers/serial.js';

// Compile-time: a LinePort feeds the monitor, and the monitor is the recorder's BatteryMonitor.
export const portIsLink: (p: LinePort) => UpsLink = (p) => p;
export const upsIsBattery: (u: UpsMonitor) => BatteryMonitor = (u) => u;

describe('UPS lines', () => {
  it('parses readings with and without a checksum', () => {
    expect(parseUpsLine('BATT 87 ONLINE')).toEqual({ ok: true, reading: { percent: 87, onMains: true, minutesLeft: null } });
    expect(parseUpsLine('BATT 23 ONBATT')).toEqual({ ok: true, reading: { percent: 23, onMains: false, minutesLeft: null } });
    expect(parseUpsLine('BATT 42.5 ONBATT 14')).toEqual({ ok: true, reading: { percent: 42.5, onMains: false, minutesLeft: 14 } });
    expect(parseUpsLine(frameLine('BATT 100 ONLINE'))).toMatchObject({ ok: true, reading: { percent: 100 } });
    expect(encodeUpsLine({ percent: 23, onMains: false, minutesLeft: 14 }, { checksum: true })).toBe('BATT 23 ONBATT 14*4186');
  });

  it.each(['', 'BATT', 'BATT 87', 'BATT 87 ON', 'BATT -1 ONLINE', 'BATT 101 ONLINE', 'BATT 87 ONLINE*0000', 'batt 87 online', 'BATT 87  ONLINE', '\u0000\u0001', 'BATT 8\uFFFD ONLINE'])(
    'refuses %j',
    (line) => {
      expect(parseUpsLine(line).ok).toBe(false);
    },
  );

  it('estimates the discharge rate from a minute of readings or more', () => {
    expect(dischargePerMinute([{ at: 0, percent: 50 }, { at: 30_000, percent: 49 }, { at: 59_000, percent: 48 }])).toBeNull();
    expect(dischargePerMinute([{ at: 0, percent: 50 }, { at: 60_000, percent: 48 }, { at: 120_000, percent: 46 }])).toBeCloseTo(2);
  });
});

class FakeLink extends EventEmitter<{ line: [string] }> implements UpsLink {}

function world(opts: { staleMs?: number } = {}): { link: FakeLink; ups: UpsMonitor; clock: { t: number }; risks: UpsRisk[]; mains: boolean[]; feed: (line: string, advanceMs?: number) => void; logs: ReturnType<typeof captureLogger> } {
  const clock = { t: 1_000_000 };
  const link = new FakeLink();
  const logs = captureLogger();
  const ups = new UpsMonitor(link, { thresholdPercent: 20, staleMs: opts.staleMs ?? 15_000, log: logs.log, now: () => clock.t });
  ups.start();
  const risks: UpsRisk[] = [];
  const mains: boolean[] = [];
  ups.on('risk', (r) => risks.push(r));
  ups.on('mains', (m) => mains.push(m.onMains));
  return {
    link,
    ups,
    clock,
    risks,
    mains,
    logs,
    feed: (line, advanceMs = 5000) => {
      clock.t += advanceMs;
      link.emit('line', line);
    },
  };
}

describe('UpsMonitor', () => {
  it('reports the latest reading as the battery state until it is stale', () => {
    const { ups, feed, clock } = world();
    expect(ups.state()).toBeUndefined();
    feed('BATT 87 ONLINE');
    expect(ups.state()).toEqual({ percent: 87, onMains: true });
    clock.t += 15_001;
    expect(ups.state()).toBeUndefined();
    expect(ups.status()).toMatchObject({ stale: true, reading: { percent: 87 } });
    expect(ups.preflightCheck()).toEqual({
      ok: false,
      detail: 'the UPS reports no charge: no reading has arrived lately: check its cable and power',
      zh: 'UPS 未报告电量（近期没有收到读数）：请检查其线缆和电源',
    });
    feed('BATT 88 ONLINE', 0);
    expect(ups.preflightCheck()).toEqual({ ok: true, detail: 'UPS reporting: 88%, on mains', zh: 'UPS 正常报告：88%，市电供电' });
    ups.stop();
  });

  it('warns from the discharge rate before the minimum is near, then critically at it; once each until mains returns', () => {
    const { ups, feed, risks, mains } = world();
    feed('BATT 80 ONLINE');
    feed('BATT 80 ONBATT');
    expect(mains).toEqual([false]);
    // 2 points a minute from 80%: 60 points to the 20% minimum is 30 min away, no warning yet.
    for (let p = 79; p >= 70; p--) feed(`BATT ${p} ONBATT`, 30_000);
    expect(risks).toEqual([]);
    // Faster: 5 points a minute. At 60% the minimum is 8 minutes away: warned while 40 points remain.
    for (let p = 67; p >= 50; p -= 2.5) feed(`BATT ${p} ONBATT`, 30_000);
    expect(risks).toHaveLength(1);
    expect(risks[0]).toMatchObject({ level: 'warning', thresholdPercent: 20 });
    expect(risks[0]!.percent).toBeGreaterThan(40);
    expect(risks[0]!.minutesToThreshold).toBeLessThanOrEqual(10);
    expect(risks[0]!.zh).toMatch(/^电池供电，电量 [\d.]+%，约 \d+ 分钟后降至下限 20%，录制可能中断，请接通电源$/);
    for (let p = 45; p > 20; p -= 5) feed(`BATT ${p} ONBATT`, 30_000);
    expect(risks).toHaveLength(1);
    feed('BATT 20 ONBATT', 30_000);
    expect(risks.map((r) => r.level)).toEqual(['warning', 'critical']);
    expect(risks[1]!.zh).toBe('电池电量 20% 已低于下限 20%，录制即将中断，请立即接通电源');
    feed('BATT 19 ONBATT');
    expect(risks).toHaveLength(2);
    feed('BATT 19 ONLINE');
    expect(mains).toEqual([false, true]);
    expect(ups.status().risk).toBeNull();
    feed('BATT 19 ONBATT');
    expect(risks.map((r) => r.level)).toEqual(['warning', 'critical', 'critical']);
  });

  it('warns within the margin even without a rate, and uses the UPS runtime estimate', () => {
    const a = world();
    a.feed('BATT 30 ONBATT');
    expect(a.risks).toMatchObject([{ level: 'warning', minutesToThreshold: null, zh: '电池供电，电量 30%，接近下限 20%，录制可能中断，请接通电源' }]);
    const b = world();
    // 60% with 12 minutes to empty: 8 minutes to the 20% minimum.
    b.feed('BATT 60 ONBATT 12');
    expect(b.risks).toMatchObject([{ level: 'warning', minutesToThreshold: 8 }]);
  });

  it('logs and ignores garbage', () => {
    const { ups, feed, logs } = world();
    feed('BATT 50 ONLINE');
    for (const g of ['\u0000\u0000\u0000', 'BATT', 'BATT 50 ONLINE*FFFF', '{"charge":50}']) feed(g, 0);
    expect(ups.state()).toEqual({ percent: 50, onMains: true });
    expect(ups.status().garbage).toBe(4);
    expect(logs.lines().filter((l) => l.msg === 'ignored garbage on the serial line')).toHaveLength(4);
  });
});
