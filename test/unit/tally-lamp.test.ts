/**
 * The tally lamp and the buzzer on the sim backend with fake timers: the lamp per recorder state, its 1 Hz
 * cadence, and the buzzer's short bursts when a fault appears (not continuously, not again for the same fault).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { SimGpioBackend } from '../../src/hal/gpio/sim.js';
import { Tally, lampModeFor, type StatusSource } from '../../src/indicators/tally.js';
import type { RecorderApi } from '../../src/indicators/triggers.js';
import type { Recorder, RecorderStatus } from '../../src/recorder/recorder.js';
import { silentLogger } from '../../src/util/log.js';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const LAMP = 17;
const BUZZER = 18;

/** A RecorderStatus as the recorder emits it, built from the few facts the tally looks at. */
function status(o: { state?: 'recording' | 'paused' | 'closed' | null; open?: boolean; down?: string[]; full?: boolean; listening?: boolean } = {}): RecorderStatus {
  const state = o.state === undefined ? null : o.state;
  return {
    deviceId: 'gw1',
    session:
      state === null
        ? null
        : {
            sessionId: 'S1',
            matter: 'hearing',
            matterLabel: '举行听证',
            caseRef: '',
            officers: [{ name: '张三', badge: '1' }],
            state,
            closedBy: state === 'closed' ? ('stopped' as const) : null,
            start: new Date(T0).toISOString(),
            end: state === 'closed' ? new Date(T0).toISOString() : null,
            interruptions: o.open ? [{ reason: 'device-fault', origin: 'detected', start: new Date(T0).toISOString(), end: null, text: null }] : [],
            lacksStatement: false,
          },
    lackingStatement: [],
    sources: ['cam1', 'mic1'].map((id) => ({
      id,
      kind: id === 'cam1' ? ('camera' as const) : ('microphone' as const),
      wanted: true,
      running: true,
      producing: !o.down?.includes(id),
      lastSegmentEnd: null,
      restarts: 0,
      down: o.down?.includes(id) ? { since: new Date(T0).toISOString(), detail: 'ffmpeg exited', words: '摄像机停止发送视频' } : null,
      lastOutage: null,
      picture: 'ok' as const,
      bitrate: undefined,
    })),
    storage: { freeBytes: 1e9, usedBytes: 0, quotaBytes: null, full: o.full ?? false },
    clock: { source: 'system', synced: true },
    battery: null,
    gps: null,
    sealing: { pending: 0 },
    listening: o.listening ? { sessionId: 'S1', since: new Date(T0).toISOString(), until: new Date(T0 + 60_000).toISOString(), kinds: ['declared'] } : null,
  };
}

let sim: SimGpioBackend;
let tally: Tally;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  sim = new SimGpioBackend();
  tally = new Tally({ lamp: sim.output(LAMP, 'lamp'), buzzer: sim.output(BUZZER, 'buzzer'), log: silentLogger });
});
afterEach(() => {
  tally.stop();
  vi.useRealTimers();
});

/** The buzzer's on-times relative to T0, as [start, length] pairs. */
function beeps(): [number, number][] {
  const out: [number, number][] = [];
  let on: number | undefined;
  for (const c of sim.changes(BUZZER)) {
    if (c.on) on = c.at;
    else if (on !== undefined) {
      out.push([on - T0, c.at - on]);
      on = undefined;
    }
  }
  return out;
}

describe('tally lamp', () => {
  it('lamp mode per recorder state', () => {
    expect(lampModeFor(status())).toBe('off');
    expect(lampModeFor(status({ state: 'closed' }))).toBe('off');
    expect(lampModeFor(status({ state: 'recording' }))).toBe('steady');
    expect(lampModeFor(status({ state: 'paused' }))).toBe('blink');
    expect(lampModeFor(status({ state: 'recording', open: true }))).toBe('blink');
    expect(lampModeFor(status({ state: 'recording', down: ['cam1'] }))).toBe('blink');
    expect(lampModeFor(status({ state: 'recording', full: true }))).toBe('blink');
    // Listening for the spoken reason after a resume: fast; a fault meanwhile is the slow blink again.
    expect(lampModeFor(status({ state: 'recording', listening: true }))).toBe('listen');
    expect(lampModeFor(status({ state: 'recording', listening: true, down: ['cam1'] }))).toBe('blink');
    // Idle with a fault: off, so the lamp never says "recording" when nothing is.
    expect(lampModeFor(status({ down: ['cam1'], full: true }))).toBe('off');
  });

  it('idle off, recording steady, stopped off again', () => {
    tally.update(status());
    expect(sim.level(LAMP)).toBe(false);
    tally.update(status({ state: 'recording' }));
    expect(sim.level(LAMP)).toBe(true);
    vi.advanceTimersByTime(5000);
    // Steady: no change in five seconds.
    expect(sim.changes(LAMP)).toEqual([{ at: T0, on: true }]);
    tally.update(status({ state: 'closed' }));
    expect(sim.level(LAMP)).toBe(false);
    expect(tally.mode()).toBe('off');
  });

  it('paused: blinks at 1 Hz (500 ms on, 500 ms off), evenly however often the status changes', () => {
    tally.update(status({ state: 'paused' }));
    expect(sim.level(LAMP)).toBe(true);
    vi.advanceTimersByTime(499);
    expect(sim.level(LAMP)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(sim.level(LAMP)).toBe(false);
    // Another status with the same lamp mode must not restart the cycle.
    vi.advanceTimersByTime(200);
    tally.update(status({ state: 'paused', open: true }));
    vi.advanceTimersByTime(2300);
    expect(sim.changes(LAMP).map((c) => [c.at - T0, c.on])).toEqual([
      [0, true],
      [500, false],
      [1000, true],
      [1500, false],
      [2000, true],
      [2500, false],
      [3000, true],
    ]);
    // Resumed: steady on, no more toggling.
    tally.update(status({ state: 'recording' }));
    const n = sim.changes(LAMP).length;
    vi.advanceTimersByTime(3000);
    expect(sim.level(LAMP)).toBe(true);
    expect(sim.changes(LAMP)).toHaveLength(n);
  });

  it('listening for the spoken reason: blinks four times as fast (125 ms on, 125 ms off), then steady once heard', () => {
    tally.update(status({ state: 'recording', listening: true }));
    vi.advanceTimersByTime(500);
    expect(sim.changes(LAMP).map((c) => [c.at - T0, c.on])).toEqual([
      [0, true],
      [125, false],
      [250, true],
      [375, false],
      [500, true],
    ]);
    tally.update(status({ state: 'recording' }));
    const n = sim.changes(LAMP).length;
    vi.advanceTimersByTime(2000);
    expect(sim.level(LAMP)).toBe(true);
    expect(sim.changes(LAMP)).toHaveLength(n);
  });

  it('a source down or storage full while recording: blinking', () => {
    tally.update(status({ state: 'recording', down: ['mic1'] }));
    expect(tally.mode()).toBe('blink');
    tally.update(status({ state: 'recording' }));
    expect(tally.mode()).toBe('steady');
    tally.update(status({ state: 'recording', full: true }));
    expect(tally.mode()).toBe('blink');
  });
});

describe('buzzer', () => {
  it('a source going down: three short beeps (150 ms on, 150 ms off), then silence while the fault lasts', () => {
    tally.update(status({ state: 'recording' }));
    expect(beeps()).toEqual([]);
    tally.update(status({ state: 'recording', down: ['cam1'] }));
    vi.advanceTimersByTime(10_000);
    tally.update(status({ state: 'recording', down: ['cam1'], open: true }));
    vi.advanceTimersByTime(10_000);
    expect(beeps()).toEqual([
      [0, 150],
      [300, 150],
      [600, 150],
    ]);
    expect(sim.level(BUZZER)).toBe(false);
  });

  it('storage filling beeps too, and a second fault beeps again', () => {
    tally.update(status({ state: 'recording', full: true }));
    vi.advanceTimersByTime(5000);
    tally.update(status({ state: 'recording', full: true, down: ['mic1'] }));
    vi.advanceTimersByTime(5000);
    expect(beeps().map(([at]) => at)).toEqual([0, 300, 600, 5000, 5300, 5600]);
  });

  it('the same fault coming back within a minute does not beep again; after a minute it does', () => {
    tally.update(status({ state: 'recording', down: ['cam1'] }));
    vi.advanceTimersByTime(10_000);
    tally.update(status({ state: 'recording' }));
    vi.advanceTimersByTime(10_000);
    tally.update(status({ state: 'recording', down: ['cam1'] }));
    vi.advanceTimersByTime(5_000);
    expect(beeps()).toHaveLength(3);
    tally.update(status({ state: 'recording' }));
    vi.advanceTimersByTime(40_000);
    tally.update(status({ state: 'recording', down: ['cam1'] }));
    vi.advanceTimersByTime(5_000);
    expect(beeps().map(([at]) => at)).toEqual([0, 300, 600, 65_000, 65_300, 65_600]);
  });

  it('a refused action: one long beep (800 ms); one arriving during a burst follows it after a gap', () => {
    tally.update(status({ state: 'recording', down: ['cam1'] }));
    vi.advanceTimersByTime(100);
    tally.signalError('record-button: pre-flight failed');
    vi.advanceTimersByTime(5000);
    // The fault burst ends at 750 ms; the long beep starts 600 ms later.
    expect(beeps()).toEqual([
      [0, 150],
      [300, 150],
      [600, 150],
      [1350, 800],
    ]);
  });

  it('stop: lamp and buzzer off, timers gone, later statuses ignored', () => {
    tally.update(status({ state: 'paused', down: ['cam1'] }));
    vi.advanceTimersByTime(100);
    tally.stop();
    expect(sim.level(LAMP)).toBe(false);
    expect(sim.level(BUZZER)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    tally.update(status({ state: 'recording' }));
    expect(sim.level(LAMP)).toBe(false);
  });
});

describe('following the recorder', () => {
  /** The recorder's surface: 'changed' events and status(). */
  class FakeRecorder extends EventEmitter<{ changed: [RecorderStatus] }> implements StatusSource {
    current = status();
    async status(): Promise<RecorderStatus> {
      return this.current;
    }
  }

  it('shows the status at start, then every change; stop unsubscribes', async () => {
    const rec = new FakeRecorder();
    rec.current = status({ state: 'recording' });
    await tally.start(rec);
    expect(sim.level(LAMP)).toBe(true);
    rec.emit('changed', status({ state: 'paused' }));
    expect(tally.mode()).toBe('blink');
    tally.stop();
    expect(rec.listenerCount('changed')).toBe(0);
  });

  it('a change arriving while the first status() is answered wins over that older answer', async () => {
    const rec = new FakeRecorder();
    let answer!: (s: RecorderStatus) => void;
    rec.status = () => new Promise((r) => (answer = r));
    const started = tally.start(rec);
    rec.emit('changed', status({ state: 'recording' }));
    answer(status());
    await started;
    expect(tally.mode()).toBe('steady');
  });

  it('the Recorder class fits the interfaces the indicators take (checked by the typecheck)', () => {
    const fits = (r: Recorder): RecorderApi & StatusSource => r;
    expect(typeof fits).toBe('function');
  });
});
