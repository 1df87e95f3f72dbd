/**
 * The gateway's time across steps of the system clock: held on the monotonic clock when nothing confirms the new
 * time, followed when a measurement taken after the step does. The system and monotonic clocks are injected (a test
 * never sets the machine's clock; clock-step-recording.test.ts steps a real gateway's with libfaketime), the step
 * watch is the real one, and the recorder is a stand-in that keeps what it is asked to record. Files are dated by
 * the file system's clock through a probe file (real files in a temporary folder).
 */
import { describe, expect, it } from 'vitest';
import { ClockStepWatch, Timeline, type ClockMonitor, type ClockStep } from '../../src/hal/clock.js';
import { ClockKeeper, type ClockStepRecorder } from '../../src/app/clock-keeper.js';
import { fileTimeReader } from '../../src/hal/time/file-clock.js';
import { silentLogger } from '../../src/util/log.js';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const T0 = Date.parse('2026-12-07T02:00:00.000Z');

function world(confirm: (sinceMono: number, mono: number) => boolean = () => false) {
  let wall = T0;
  let mono = 10_000;
  const clocks = { wall: () => wall, mono: () => mono };
  const timeline = new Timeline(clocks);
  const watch = new ClockStepWatch({ thresholdMs: 1_000, wallClock: clocks.wall, monotonic: clocks.mono });
  let refreshed = 0;
  let measuredAt = mono;
  const monitor: ClockMonitor = {
    state: () => ({ source: 'system', synced: true, assumed: true }),
    start: async () => {},
    stop: () => {},
    refresh: async () => {
      refreshed++;
      measuredAt = mono;
    },
    confirmedSince: (since) => measuredAt >= since && confirm(since, measuredAt),
  };
  const recorded: (ClockStep & { held: boolean })[] = [];
  const recorder: ClockStepRecorder = {
    clockStepped: async (st) => void recorded.push(st),
    followClock: async (rebase) => {
      const t = rebase();
      recorded.push({ old: new Date(t.old).toISOString(), new: new Date(t.new).toISOString(), deltaMs: t.new - t.old, held: false });
    },
  };
  const keeper = new ClockKeeper({ timeline, monitor, watch, recorder, thresholdMs: 1_000, log: silentLogger, intervalMs: 5, refreshWaitMs: 50 });
  return {
    timeline,
    keeper,
    recorded,
    refreshes: () => refreshed,
    measure: () => (measuredAt = mono),
    tick(ms: number) {
      wall += ms;
      mono += ms;
      watch.check();
    },
    step(ms: number) {
      wall += ms;
    },
  };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

describe('ClockKeeper', () => {
  it('holds the gateway time through a step nothing confirms, and records it as held', async () => {
    const w = world();
    w.keeper.start();
    w.tick(1_000);
    const before = w.timeline.now();
    w.step(30_000);
    w.tick(1_000); // the watch notices on its next comparison
    await settle();
    expect(w.refreshes()).toBe(1); // it asked the clock source to measure again first
    expect(w.recorded).toEqual([{ old: new Date(T0 + 2_000).toISOString(), new: new Date(T0 + 32_000).toISOString(), deltaMs: 30_000, held: true }]);
    // The gateway's time went on by the monotonic second, not by the step.
    expect(w.timeline.now()).toBe(before + 1_000);
    expect(w.keeper.heldMs()).toBe(30_000);

    // Stepped back: the system clock agrees with the gateway time again; that step is recorded too.
    w.step(-30_000);
    w.tick(1_000);
    await settle();
    expect(w.recorded.at(-1)).toMatchObject({ deltaMs: -30_000, held: true });
    expect(w.keeper.heldMs()).toBeUndefined();
    expect(w.timeline.now()).toBe(before + 2_000);
    await w.keeper.stop();
  });

  it('follows a step that a measurement after it confirms (NTP set a wrong clock right): one entry, not held', async () => {
    const w = world(() => true);
    w.keeper.start();
    w.tick(1_000);
    w.step(-3_600_000); // the RTC was an hour ahead; the clock source sets it right
    w.tick(1_000);
    await settle();
    expect(w.recorded).toEqual([{ old: new Date(T0 + 2_000).toISOString(), new: new Date(T0 + 2_000 - 3_600_000).toISOString(), deltaMs: -3_600_000, held: false }]);
    expect(w.timeline.now()).toBe(T0 + 2_000 - 3_600_000);
    expect(w.keeper.heldMs()).toBeUndefined();
    await w.keeper.stop();
  });

  it('a step nothing confirms at once is held; a measurement that confirms it later makes the gateway time follow', async () => {
    let confirmed = false;
    const w = world(() => confirmed);
    w.keeper.start();
    w.tick(1_000);
    w.step(20_000);
    w.tick(1_000);
    await settle();
    expect(w.recorded.map((r) => r.held)).toEqual([true]);
    expect(w.keeper.heldMs()).toBe(20_000);
    // The source now says synchronised, measured after the step: the gateway takes the system clock's time.
    confirmed = true;
    w.tick(500);
    w.measure();
    await settle();
    expect(w.recorded.at(-1)).toEqual({ old: new Date(T0 + 2_500).toISOString(), new: new Date(T0 + 22_500).toISOString(), deltaMs: 20_000, held: false });
    expect(w.timeline.now()).toBe(T0 + 22_500);
    expect(w.keeper.heldMs()).toBeUndefined();
    await w.keeper.stop();
  });
});

describe('Timeline', () => {
  it('counts on the monotonic clock from its anchor, and rebase takes the system clock again', () => {
    let wall = T0;
    let mono = 0;
    const t = new Timeline({ wall: () => wall, mono: () => mono });
    mono += 1_500.4;
    wall += 1_500;
    expect(t.now()).toBe(T0 + 1_500);
    expect(t.at(700)).toBe(T0 + 700);
    wall -= 45_000;
    expect(t.now()).toBe(T0 + 1_500);
    expect(t.heldMs()).toBe(-45_000);
    expect(t.rebase()).toEqual({ old: T0 + 1_500, new: T0 - 43_500 });
    expect(t.heldMs()).toBe(0);
  });
});

describe('fileTimeReader', () => {
  it('dates a file by the file system clock against a probe, not by the gateway time the mtime would give', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recgw-fileclock-'));
    try {
      // As after a held +30 s step: the system clock, which stamps files, is 30 s ahead of the gateway's time.
      const timeline = new Timeline({ wall: () => Date.now() - 30_000 });
      const read = fileTimeReader(join(dir, 'clock-probe'), timeline, silentLogger);
      const file = join(dir, 'segments.csv');
      writeFileSync(file, 'seg-000000.ts,0.000000,2.000000\n');
      const written = timeline.now();
      const mtime = statSync(file).mtimeMs;
      expect(mtime - written).toBeGreaterThan(29_000); // the mtime alone is 30 s off
      expect(Math.abs((await read(mtime)) - written)).toBeLessThan(50);
      // A file written 2 s earlier (by the file system's clock) is dated 2 s earlier.
      utimesSync(file, new Date(mtime - 2_000), new Date(mtime - 2_000));
      expect(Math.abs((await read(statSync(file).mtimeMs)) - (written - 2_000))).toBeLessThan(50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
