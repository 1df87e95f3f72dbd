/**
 * The UPS line protocol and monitor without a serial port, on a test clock: readings become the BatteryMonitor
 * state, go stale when the UPS falls silent, and a falling charge on battery raises a warning before the minimum
 * is reached and a critical alarm at it, once per level until mains power returns. Garbage is logged, never thrown.
 * When the power is about to go (LB on battery, a charge or runtime at its limit, a forced shutdown) the monitor
 * says so once, in words, and takes it back only when the UPS is on mains again.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { encodeUpsLine, parseUpsLine, SerialUpsFeed, type UpsLink } from '../../src/hal/serial/ups.js';
import { dischargePerMinute, UpsMonitor, type UpsFeed, type UpsLinkState, type UpsLow, type UpsReading, type UpsRisk } from '../../src/hal/power/ups-monitor.js';
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
  const feed = new SerialUpsFeed(link, { log: logs.log, now: () => clock.t });
  feed.start();
  const ups = new UpsMonitor(feed, { thresholdPercent: 20, staleMs: opts.staleMs ?? 15_000, log: logs.log, now: () => clock.t });
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
    expect(ups.status().link.garbage).toBe(4);
    expect(logs.lines().filter((l) => l.msg === 'ignored garbage on the serial line')).toHaveLength(4);
  });
});

/** Readings as NUT's feed hands them over (with ups.status's flags), on the test clock. */
class FakeFeed extends EventEmitter<{ reading: [UpsReading] }> implements UpsFeed {
  link(): UpsLinkState {
    return { kind: 'nut', where: 'dummy@127.0.0.1:3493', connected: true, lastError: null, garbage: 0 };
  }
}

function nutWorld(): { ups: UpsMonitor; lows: UpsLow[]; restored: number[]; feed: (status: string, percent: number, runtimeS?: number) => void } {
  const clock = { t: 1_000_000 };
  const f = new FakeFeed();
  const ups = new UpsMonitor(f, { thresholdPercent: 20, lowBatteryPercent: 10, lowRuntimeSeconds: 120, now: () => clock.t });
  ups.start();
  const lows: UpsLow[] = [];
  const restored: number[] = [];
  ups.on('low', (l) => lows.push(l));
  ups.on('restored', (r) => restored.push(r.percent));
  return {
    ups,
    lows,
    restored,
    feed: (status, percent, runtimeS) => {
      clock.t += 2000;
      const flags = status.split(' ');
      f.emit('reading', { percent, onMains: !flags.includes('OB'), minutesLeft: runtimeS === undefined ? null : runtimeS / 60, status, lowBattery: flags.includes('LB'), forcedShutdown: flags.includes('FSD') });
    },
  };
}

describe('when the power is about to go', () => {
  it("the UPS's LB on battery: once, in words, until mains power returns; LB on mains is no danger", () => {
    const { ups, lows, restored, feed } = nutWorld();
    feed('OL CHRG LB', 15);
    expect(lows).toEqual([]);
    feed('OB', 40, 900);
    feed('OB LB', 30, 300);
    expect(lows).toEqual([
      {
        percent: 30,
        minutesLeft: 5,
        cause: 'ups-low-battery',
        forcedShutdown: false,
        technical: 'ups.status "OB LB", battery.charge 30, battery.runtime 300',
        text: '不间断电源报告电池电量低（LB），电量 30%，剩余约 300 秒：停止录制并封存已录内容，以免断电丢失',
        zh: '不间断电源报告电池电量低（LB），电量 30%，剩余约 300 秒',
        en: 'the UPS reports low battery (LB) at 30%, about 300 s left',
      },
    ]);
    expect(ups.lowPower()).toEqual(lows[0]);
    expect(ups.preflightCheck()).toEqual({
      ok: false,
      detail: 'the UPS reports low battery (LB) at 30%, about 300 s left: recording would stop at once; connect mains power',
      zh: '不间断电源报告电池电量低（LB），电量 30%，剩余约 300 秒：录制会立即中断，请接通市电',
    });
    // A charge that wobbles, or LB that clears on battery, does not end it: only mains power does.
    feed('OB', 31, 320);
    feed('OB LB', 29, 280);
    expect(lows).toHaveLength(1);
    expect(restored).toEqual([]);
    feed('OL CHRG', 29);
    expect(restored).toEqual([29]);
    expect(ups.lowPower()).toBeNull();
    expect(ups.status().low).toBeNull();
  });

  it('our own limits on charge and runtime, for UPSes whose LB comes late', () => {
    const a = nutWorld();
    a.feed('OB', 11);
    expect(a.lows).toEqual([]);
    a.feed('OB', 10);
    expect(a.lows).toMatchObject([{ cause: 'battery-charge-low', text: '电池电量 10%，已降至停止录制的下限 10%：停止录制并封存已录内容，以免断电丢失' }]);
    const b = nutWorld();
    b.feed('OB', 60, 121);
    expect(b.lows).toEqual([]);
    b.feed('OB', 60, 120);
    expect(b.lows).toMatchObject([{ cause: 'battery-runtime-low', technical: 'ups.status "OB", battery.charge 60, battery.runtime 120' }]);
  });

  it('a forced shutdown: low even on mains, said again when it follows LB, and only its end restores', () => {
    const { lows, restored, feed } = nutWorld();
    feed('OB LB', 8);
    feed('FSD OB LB', 7);
    expect(lows.map((l) => [l.cause, l.forcedShutdown])).toEqual([
      ['ups-low-battery', false],
      ['ups-forced-shutdown', true],
    ]);
    expect(lows[1]!.text).toBe('不间断电源已下达强制关机（FSD），即将断电，电量 7%：停止录制并封存已录内容，以免断电丢失');
    feed('FSD OL', 7);
    expect(restored).toEqual([]);
    feed('OL', 7);
    expect(restored).toEqual([7]);
    const b = nutWorld();
    b.feed('FSD OL', 90);
    expect(b.lows).toMatchObject([{ cause: 'ups-forced-shutdown' }]);
  });

  it('the serial protocol too: a charge at the limit on battery', () => {
    const { ups, feed } = world();
    const lows: UpsLow[] = [];
    ups.on('low', (l) => lows.push(l));
    feed('BATT 12 ONBATT 5');
    expect(lows).toEqual([]);
    feed('BATT 10 ONBATT 4');
    expect(lows).toMatchObject([{ cause: 'battery-charge-low', technical: 'ups.status "ONBATT", battery.charge 10, battery.runtime 240' }]);
  });
});
