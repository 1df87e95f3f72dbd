/**
 * Clock-step detection. The real wall clock cannot be stepped here (that needs CAP_SYS_TIME on the host and
 * would disturb everything else running), so the watch gets an injected wall clock that the test steps, while
 * the monotonic clock is either injected too (exact checks) or the real one (the timer path).
 */
import { describe, expect, it } from 'vitest';
import { ClockStepWatch, type ClockStep } from '../../src/hal/clock.js';

function fakeClocks(startWall = Date.parse('2026-05-01T08:00:00.000Z')): { wall: () => number; mono: () => number; tick: (ms: number) => void; step: (ms: number) => void } {
  let wall = startWall;
  let mono = 50_000;
  return {
    wall: () => wall,
    mono: () => mono,
    tick: (ms) => {
      wall += ms;
      mono += ms;
    },
    step: (ms) => (wall += ms),
  };
}

describe('ClockStepWatch', () => {
  it('sees no step while wall and monotonic clocks advance together, even across a long stall', () => {
    const c = fakeClocks();
    const w = new ClockStepWatch({ thresholdMs: 1_000, wallClock: c.wall, monotonic: c.mono });
    w.start();
    for (let i = 0; i < 10; i++) {
      c.tick(1_000);
      expect(w.check()).toBeNull();
    }
    c.tick(30_000); // the event loop blocked for 30 s: both clocks moved, nothing was set
    expect(w.check()).toBeNull();
    w.stop();
  });

  it('reports a forward step with the expected and the actual wall time', () => {
    const c = fakeClocks();
    const w = new ClockStepWatch({ thresholdMs: 1_000, wallClock: c.wall, monotonic: c.mono });
    const seen: ClockStep[] = [];
    w.on('step', (s) => seen.push(s));
    w.start();
    c.tick(1_000);
    c.step(3_600_000); // NTP (or an operator) sets the clock an hour ahead
    const s = w.check();
    expect(s).toEqual({ old: '2026-05-01T08:00:01.000Z', new: '2026-05-01T09:00:01.000Z', deltaMs: 3_600_000 });
    expect(seen).toEqual([s]);
    // Re-based: the next second is normal again.
    c.tick(1_000);
    expect(w.check()).toBeNull();
    w.stop();
  });

  it('reports a backward step, and ignores a slew below the threshold', () => {
    const c = fakeClocks();
    const w = new ClockStepWatch({ thresholdMs: 1_000, wallClock: c.wall, monotonic: c.mono });
    w.start();
    c.tick(1_000);
    c.step(-83); // chrony's fastest slew, per second
    expect(w.check()).toBeNull();
    c.tick(1_000);
    c.step(-1_000); // exactly the threshold: not beyond it
    expect(w.check()).toBeNull();
    c.tick(1_000);
    c.step(-1_500);
    expect(w.check()).toEqual({ old: '2026-05-01T08:00:01.917Z', new: '2026-05-01T08:00:00.417Z', deltaMs: -1_500 });
    w.stop();
  });

  it('checks on its own timer against the real monotonic clock', async () => {
    let offset = 0;
    const w = new ClockStepWatch({ thresholdMs: 500, intervalMs: 20, wallClock: () => Date.now() + offset });
    const got = new Promise<ClockStep>((resolve) => w.once('step', resolve));
    w.start();
    await new Promise((r) => setTimeout(r, 60)); // a few quiet checks first
    const before = Date.now();
    offset = -5_000;
    const s = await got;
    w.stop();
    expect(s.deltaMs).toBeGreaterThan(-5_050);
    expect(s.deltaMs).toBeLessThan(-4_950);
    expect(Date.parse(s.old)).toBeGreaterThanOrEqual(before - 50);
    expect(Date.parse(s.old) - Date.parse(s.new)).toBe(-s.deltaMs);
  });

  it('does not report the time it was stopped as a step', () => {
    const c = fakeClocks();
    const w = new ClockStepWatch({ thresholdMs: 1_000, wallClock: c.wall, monotonic: c.mono });
    w.start();
    w.stop();
    c.step(10_000);
    w.start();
    c.tick(1_000);
    expect(w.check()).toBeNull();
    w.stop();
    expect(() => new ClockStepWatch({ thresholdMs: 0 })).toThrow(/threshold/);
  });

  it('does not take a thread held off the CPU between its two clock reads for a step, and still sees a real one', () => {
    // The scheduler takes the thread off the CPU after it read the wall clock and before the monotonic clock: 1.5 s
    // pass on both clocks between the reads. Read in that order, the wall reading would look 1.5 s behind.
    let wall = Date.parse('2026-05-01T08:00:00.000Z');
    let mono = 50_000;
    let preemptAfterWall = 0;
    const w = new ClockStepWatch({
      thresholdMs: 1_000,
      wallClock: () => {
        const v = wall;
        wall += preemptAfterWall;
        mono += preemptAfterWall;
        preemptAfterWall = 0;
        return v;
      },
      monotonic: () => mono,
    });
    w.start();
    wall += 1_000;
    mono += 1_000;
    preemptAfterWall = 1_500;
    expect(w.check()).toBeNull();
    // The split reading was dropped, not used as the next base: the next one compares with the last good one.
    wall += 1_000;
    mono += 1_000;
    expect(w.check()).toBeNull();
    wall += 5_000; // stepped 4 s forward during a 1 s interval
    mono += 1_000;
    expect(w.check()).toMatchObject({ deltaMs: 4_000 });
    w.stop();
  });
});
