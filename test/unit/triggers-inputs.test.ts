/**
 * Trigger inputs on the sim backend with fake timers: debounce, activeLow, every action, the ignition rules, and
 * refusals that are logged and beeped, never thrown. The recorder is a fake with the interface the CLI uses.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { SimGpioBackend } from '../../src/hal/gpio/sim.js';
import { Triggers, workFor, type EventMark, type InputConfig, type RecorderApi } from '../../src/indicators/triggers.js';
import { startIndicators } from '../../src/indicators/index.js';
import type { RecorderStatus, StartRequest } from '../../src/recorder/recorder.js';
import { RecgwError } from '../../src/util/errors.js';
import { createLogger, silentLogger } from '../../src/util/log.js';

const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const SESSION = { matter: '举行听证', officers: ['张三:31010001', '李四:31010002'] };

/** A recorder with one session slot; records the calls it gets; can be told to refuse. */
class FakeRecorder extends EventEmitter<{ changed: [RecorderStatus] }> implements RecorderApi {
  calls: string[] = [];
  starts: StartRequest[] = [];
  state: 'recording' | 'paused' | null = null;
  refuse: string | null = null;
  startDelayMs = 0;

  async startSession(req: StartRequest): Promise<unknown> {
    this.calls.push('start');
    this.starts.push(req);
    if (this.startDelayMs > 0) await new Promise((r) => setTimeout(r, this.startDelayMs));
    if (this.refuse) throw new RecgwError('recorder', this.refuse);
    this.state = 'recording';
    return {};
  }
  async stopSession(): Promise<unknown> {
    this.calls.push('stop');
    this.state = null;
    return {};
  }
  async status(): Promise<RecorderStatus> {
    return {
      deviceId: 'gw1',
      session: this.state
        ? { sessionId: 'S1', matter: 'hearing', matterLabel: '举行听证', caseRef: '', officers: [], state: this.state, closedBy: null, start: '', end: null, interruptions: [], lacksStatement: false }
        : null,
      lackingStatement: [],
      sources: [],
      storage: { freeBytes: 1e9, usedBytes: 0, quotaBytes: null, full: false },
      clock: { source: 'system', synced: true },
      battery: null,
      gps: null,
      sealing: { pending: 0 },
    };
  }
}

let sim: SimGpioBackend;
let rec: FakeRecorder;
let marks: EventMark[];
let alarms: string[];
let triggers: Triggers | undefined;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  sim = new SimGpioBackend();
  rec = new FakeRecorder();
  marks = [];
  alarms = [];
  triggers = undefined;
});
afterEach(async () => {
  await triggers?.stop();
  vi.useRealTimers();
});

function input(name: InputConfig['name'], action: InputConfig['action'], o: Partial<InputConfig> = {}): InputConfig {
  return { pin: 20, name, action, activeLow: false, debounceMs: 50, ...o };
}

/** Triggers on sim pins for the given inputs (pins 20, 21, ... unless given), started. */
function start(inputs: InputConfig[], o: { session?: typeof SESSION | undefined; log?: ReturnType<typeof createLogger> } = {}): Triggers {
  triggers = new Triggers({
    inputs: inputs.map((config) => ({ config, pin: sim.input(config.pin, config.name) })),
    ...('session' in o ? (o.session ? { session: o.session } : {}) : { session: SESSION }),
    recorder: rec,
    markEvent: (m) => void marks.push(m),
    alarm: { signalError: (r) => void alarms.push(r) },
    log: o.log ?? silentLogger,
  });
  triggers.start();
  return triggers;
}

/** Let debounce timers run and the recorder calls they cause finish. */
async function settle(ms = 100): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await triggers!.idle();
}

describe('debounce', () => {
  it('bounces within debounceMs (50) give one action, 50 ms after the last bounce', async () => {
    start([input('record-button', 'toggle-session')]);
    for (const [dt, v] of [[0, 1], [3, 0], [6, 1], [9, 0], [12, 1]] as const) {
      vi.setSystemTime(T0 + dt);
      sim.drive(20, v);
    }
    await vi.advanceTimersByTimeAsync(49);
    expect(rec.calls).toEqual([]);
    await settle(1);
    expect(rec.calls).toEqual(['start']);
    // The release bounces too: a momentary button does nothing on release.
    sim.drive(20, 0);
    sim.drive(20, 1);
    sim.drive(20, 0);
    await settle();
    expect(rec.calls).toEqual(['start']);
  });

  it('a spike shorter than debounceMs does nothing (noise on a vehicle wire)', async () => {
    start([input('ignition', 'start-session', { debounceMs: 200 })]);
    sim.drive(20, 1);
    await vi.advanceTimersByTimeAsync(30);
    sim.drive(20, 0);
    await settle(500);
    expect(rec.calls).toEqual([]);
    expect(triggers!.states()[0]!.active).toBe(false);
  });

  it('debounceMs 0 acts at once', async () => {
    start([input('record-button', 'start-session', { debounceMs: 0 })]);
    sim.drive(20, 1);
    await triggers!.idle();
    expect(rec.calls).toEqual(['start']);
  });

  it("a mark's time is the burst's first edge, not the moment it settled", async () => {
    start([input('record-button', 'mark-event')]);
    sim.drive(20, 1);
    vi.advanceTimersByTime(10);
    sim.drive(20, 0);
    vi.advanceTimersByTime(10);
    sim.drive(20, 1);
    await settle();
    expect(marks).toEqual([{ input: 'record-button', pin: 20, state: 'active', time: new Date(T0).toISOString() }]);
  });
});

describe('activeLow', () => {
  it('a button to ground with a pull-up: idle high is inactive, pulled low is a press', async () => {
    sim.drive(20, 1); // idle level, before the pin is opened
    start([input('record-button', 'toggle-session', { activeLow: true })]);
    await settle();
    expect(triggers!.states()[0]!.active).toBe(false);
    expect(rec.calls).toEqual([]);
    sim.drive(20, 0);
    await settle();
    expect(rec.calls).toEqual(['start']);
    sim.drive(20, 1); // release
    await settle();
    expect(rec.calls).toEqual(['start']);
  });

  it('without activeLow the same wiring would read as pressed', async () => {
    start([input('record-button', 'toggle-session')]);
    sim.drive(20, 1);
    await settle();
    expect(rec.calls).toEqual(['start']);
  });
});

describe('actions', () => {
  it('toggle-session on the button: start, then stop', async () => {
    start([input('record-button', 'toggle-session')]);
    const press = async (): Promise<void> => {
      sim.drive(20, 1);
      await settle();
      sim.drive(20, 0);
      await settle();
    };
    await press();
    await press();
    expect(rec.calls).toEqual(['start', 'stop']);
  });

  it("start-session uses gpio.session's matter (as its code) and officers, parsed from name:badge", async () => {
    start([input('record-button', 'start-session')]);
    sim.drive(20, 1);
    await settle();
    expect(rec.starts).toEqual([
      {
        matter: 'hearing',
        caseRef: '',
        officers: [
          { name: '张三', badge: '31010001' },
          { name: '李四', badge: '31010002' },
        ],
      },
    ]);
    // Pressed again with the session open: nothing (no stop, no error).
    sim.drive(20, 0);
    await settle();
    sim.drive(20, 1);
    await settle();
    expect(rec.calls).toEqual(['start']);
    expect(alarms).toEqual([]);
  });

  it('stop-session on the button stops an open session; with none open it does nothing', async () => {
    start([input('record-button', 'stop-session')], { session: undefined });
    sim.drive(20, 1);
    await settle();
    expect(rec.calls).toEqual([]);
    rec.state = 'paused';
    sim.drive(20, 0);
    await settle();
    sim.drive(20, 1);
    await settle();
    expect(rec.calls).toEqual(['stop']);
  });

  it('mark-event on a door: both changes are marked', async () => {
    start([input('door', 'mark-event')], { session: undefined });
    sim.drive(20, 1);
    await settle();
    vi.setSystemTime(T0 + 60_000);
    sim.drive(20, 0);
    await settle();
    expect(marks.map((m) => [m.input, m.state, m.time])).toEqual([
      ['door', 'active', new Date(T0).toISOString()],
      ['door', 'inactive', new Date(T0 + 60_000).toISOString()],
    ]);
    expect(rec.calls).toEqual([]);
  });

  it('none: changes are watched and nothing is done', async () => {
    start([input('lightbar', 'none')], { session: undefined });
    sim.drive(20, 1);
    await settle();
    expect(triggers!.states()[0]).toMatchObject({ name: 'lightbar', active: true });
    expect(rec.calls).toEqual([]);
    expect(marks).toEqual([]);
  });

  it('workFor: the whole table', () => {
    const table = (['toggle-session', 'start-session', 'stop-session', 'mark-event', 'none'] as const).map((a) => [
      a,
      workFor('record-button', a, true),
      workFor('record-button', a, false),
      workFor('ignition', a, true),
      workFor('ignition', a, false),
    ]);
    expect(table).toEqual([
      ['toggle-session', 'toggle', null, 'start', 'stop'],
      ['start-session', 'start', null, 'start', null],
      ['stop-session', 'stop', null, null, 'stop'],
      ['mark-event', 'mark', null, 'mark', 'mark'],
      ['none', null, null, null, null],
    ]);
  });
});

describe('ignition', () => {
  it('start-session: ignition on starts; ignition off does not stop', async () => {
    start([input('ignition', 'start-session')]);
    sim.drive(20, 1);
    await settle();
    sim.drive(20, 0);
    await settle();
    expect(rec.calls).toEqual(['start']);
    expect(rec.state).toBe('recording');
  });

  it('stop-session: ignition off stops (configured so); ignition on does nothing', async () => {
    rec.state = 'recording';
    start([input('ignition', 'stop-session')], { session: undefined });
    sim.drive(20, 1);
    await settle();
    expect(rec.calls).toEqual([]);
    sim.drive(20, 0);
    await settle();
    expect(rec.calls).toEqual(['stop']);
  });

  it('toggle-session: the session follows the ignition', async () => {
    start([input('ignition', 'toggle-session')]);
    sim.drive(20, 1);
    await settle();
    sim.drive(20, 0);
    await settle();
    expect(rec.calls).toEqual(['start', 'stop']);
  });

  it('already on at start-up (the gateway powers up with the ignition): starts; a resumed session is left alone', async () => {
    sim.drive(20, 1);
    start([input('ignition', 'start-session')]);
    await settle();
    expect(rec.calls).toEqual(['start']);
    await triggers!.stop();

    sim = new SimGpioBackend();
    sim.drive(21, 1);
    rec = new FakeRecorder();
    rec.state = 'recording';
    start([input('ignition', 'start-session', { pin: 21 })]);
    await settle();
    expect(rec.calls).toEqual([]);
  });
});

describe('refusals and errors', () => {
  it('a refused start is logged and beeped, never thrown; the next press works', async () => {
    const lines: string[] = [];
    rec.refuse = 'cannot start the session: clock: not synchronised';
    start([input('record-button', 'start-session')], { log: createLogger('t', { sink: (l) => lines.push(l), level: 'info' }) });
    sim.drive(20, 1);
    await settle();
    expect(alarms).toEqual(['record-button: cannot start the session: clock: not synchronised']);
    expect(lines.some((l) => l.includes('input action failed') && l.includes('not synchronised'))).toBe(true);
    rec.refuse = null;
    sim.drive(20, 0);
    await settle();
    sim.drive(20, 1);
    await settle();
    expect(rec.state).toBe('recording');
  });

  it('status() failing is caught the same way', async () => {
    rec.status = () => Promise.reject(new Error('database is locked'));
    start([input('record-button', 'toggle-session')]);
    sim.drive(20, 1);
    await settle();
    expect(alarms).toEqual(['record-button: database is locked']);
  });

  it('a second press while the start still runs (sources starting) is ignored', async () => {
    rec.startDelayMs = 3000;
    start([input('record-button', 'toggle-session')]);
    sim.drive(20, 1);
    await vi.advanceTimersByTimeAsync(100);
    sim.drive(20, 0);
    await vi.advanceTimersByTimeAsync(100);
    sim.drive(20, 1);
    await settle(5000);
    expect(rec.calls).toEqual(['start']);
    expect(rec.state).toBe('recording');
  });

  it('config that cannot work fails at start', () => {
    expect(() => start([input('record-button', 'start-session')], { session: undefined })).toThrow(/gpio.session \(matter and officers\) is required/);
    expect(() => start([input('ignition', 'toggle-session', { pin: 21 })], { session: { matter: 'picnic', officers: ['a:1'] } })).toThrow(/not a matter type/);
    expect(() => start([input('lightbar', 'start-session', { pin: 22 })], { session: { matter: 'hearing', officers: ['nobadge:'] } })).toThrow(/must be "name:执法证号"/);
    triggers = undefined;
    expect(
      () => new Triggers({ inputs: [{ config: input('door', 'mark-event', { pin: 23 }), pin: sim.input(23, 'door') }], recorder: rec, log: silentLogger }),
    ).toThrow(/nothing was given to write them/);
  });
});

describe('startIndicators (sim backend)', () => {
  it('opens the configured pins, lamp follows the recorder, the button starts a session, stop releases the pins', async () => {
    const ind = await startIndicators({
      config: { backend: 'sim', lamp: 17, buzzer: 18, inputs: [input('record-button', 'toggle-session', { pin: 27 })], session: SESSION },
      backend: sim,
      recorder: rec,
      log: silentLogger,
    });
    expect([...sim.opened().keys()].sort()).toEqual([17, 18, 27]);
    sim.drive(27, 1);
    await vi.advanceTimersByTimeAsync(100);
    await ind.triggers.idle();
    expect(rec.calls).toEqual(['start']);
    rec.emit('changed', await rec.status());
    expect(sim.level(17)).toBe(true);
    await ind.stop();
    expect(sim.opened().size).toBe(0);
  });

  it('a pin that cannot be opened fails the start and releases the pins already opened', async () => {
    sim = new SimGpioBackend({ unavailable: [27] });
    await expect(
      startIndicators({
        config: { backend: 'sim', lamp: 17, buzzer: 18, inputs: [input('record-button', 'toggle-session', { pin: 27 })], session: SESSION },
        backend: sim,
        recorder: rec,
        log: silentLogger,
      }),
    ).rejects.toThrow(/record-button on BCM 27/);
    expect(sim.opened().size).toBe(0);
  });
});
