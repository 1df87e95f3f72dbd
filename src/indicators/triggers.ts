/**
 * Trigger inputs (record button, door contact, vehicle ignition, lightbar): debounced, made logical (activeLow),
 * and mapped to the action the config names. Every action goes through the recorder interface the CLI uses; a
 * refusal (pre-flight failed, ...) is logged and signalled by the buzzer, never a crash.
 *
 * Debounce: an input acts once its level has been stable for debounceMs after the last edge (a trailing debounce:
 * a burst of contact bounce, or a spike on a vehicle's wiring shorter than debounceMs, gives one action or none).
 * The action's time is that of the burst's first edge. debounceMs 0 acts on every change at once.
 *
 * When an action fires:
 * - record-button is momentary: the press (going active) fires the action; the release does nothing.
 * - door, ignition and lightbar are levels that stay on:
 *     start-session   going active starts a session (ignition on); going inactive does nothing, so a session
 *                     started at ignition-on outlives the engine unless configured otherwise;
 *     stop-session    going inactive stops the session (ignition off);
 *     toggle-session  follows the input: active starts, inactive stops (ignition on/off = session on/off);
 *     mark-event      both changes are marked, with state active/inactive (door opened, door closed).
 *   A level input already active at start-up (the gateway powered up with the ignition) does what going active does
 *   for start-session and toggle-session; if the recorder resumed a session after a restart, that is a no-op.
 * start when a session is already open, or stop when none is, is a no-op (logged), not an error: the panel or the
 * CLI may have got there first. A button pressed again while its previous action still runs (a start waits for the
 * sources) is ignored, so an impatient double press does not start and then stop.
 */
import type { GpioConfig, InputAction } from '../config/types.js';
import type { RecorderStatus, StartRequest } from '../recorder/recorder.js';
import type { Officer } from '../evidence/types.js';
import { MATTERS, lookupTerm } from '../evidence/vocabulary.js';
import type { GpioIn, PinValue } from '../hal/gpio/types.js';
import type { Logger } from '../util/log.js';
import { RecgwError, describe } from '../util/errors.js';
import { realTimers, type Timers } from './timers.js';

export type InputConfig = GpioConfig['inputs'][number];
export type InputName = InputConfig['name'];

/** The part of the recorder the triggers use (the Recorder class satisfies it). */
export interface RecorderApi {
  startSession(req: StartRequest): Promise<unknown>;
  stopSession(): Promise<unknown>;
  status(): Promise<RecorderStatus>;
}

/** What a mark-event input reports; proposed ledger entry `event.marked` with this body plus the open sessionId. */
export interface EventMark {
  input: InputName;
  /** BCM pin. */
  pin: number;
  /** The input went active (pressed, door opened as wired) or inactive. */
  state: 'active' | 'inactive';
  /** ISO time of the change (the first edge of the debounced burst). */
  time: string;
}
export type MarkEvent = (mark: EventMark) => Promise<unknown> | unknown;

/** Who hears of a refused action (the Tally's one long beep). */
export interface Alarm {
  signalError(reason: string): void;
}

export interface TriggersOptions {
  inputs: { config: InputConfig; pin: GpioIn }[];
  /** gpio.session: the matter and officers ("name:执法证号") of a session an input starts. */
  session?: GpioConfig['session'];
  recorder: RecorderApi;
  /** Needed when an input's action is mark-event. */
  markEvent?: MarkEvent;
  alarm?: Alarm;
  log: Logger;
  timers?: Timers;
}

type Work = 'start' | 'stop' | 'toggle' | 'mark';

const MOMENTARY: ReadonlySet<InputName> = new Set<InputName>(['record-button']);

interface InputState {
  config: InputConfig;
  pin: GpioIn;
  /** Debounced logical level (true = active). */
  active: boolean;
  last: boolean;
  burstAt: number | undefined;
  timer: unknown;
  unwatch: (() => void) | undefined;
  busy: boolean;
}

/** "name:执法证号" to an officer. */
export function parseOfficer(s: string): Officer {
  const i = s.indexOf(':');
  const name = i < 0 ? '' : s.slice(0, i).trim();
  const badge = i < 0 ? '' : s.slice(i + 1).trim();
  if (!name || !badge) throw new RecgwError('config', `gpio.session.officers: ${JSON.stringify(s)} must be "name:执法证号"`);
  return { name, badge };
}

/** What an input does when it settles at `active` (pure; see the file comment). */
export function workFor(name: InputName, action: InputAction, active: boolean): Work | null {
  if (MOMENTARY.has(name)) {
    if (!active) return null;
    return action === 'toggle-session' ? 'toggle' : action === 'start-session' ? 'start' : action === 'stop-session' ? 'stop' : action === 'mark-event' ? 'mark' : null;
  }
  switch (action) {
    case 'start-session':
      return active ? 'start' : null;
    case 'stop-session':
      return active ? null : 'stop';
    case 'toggle-session':
      return active ? 'start' : 'stop';
    case 'mark-event':
      return 'mark';
    case 'none':
      return null;
  }
}

export class Triggers {
  private readonly t: Timers;
  private readonly inputs: InputState[];
  private readonly request: StartRequest | undefined;
  private queue: Promise<void> = Promise.resolve();
  private running = false;

  /** Checks the config (throws RecgwError 'config'): a session for start/toggle inputs, a marker for mark-event. */
  constructor(private readonly o: TriggersOptions) {
    this.t = o.timers ?? realTimers;
    const starts = o.inputs.filter((i) => i.config.action === 'start-session' || i.config.action === 'toggle-session');
    if (starts.length > 0) {
      const names = starts.map((i) => i.config.name).join(', ');
      if (!o.session) throw new RecgwError('config', `gpio: ${names} can start a session, so gpio.session (matter and officers) is required`);
      const matter = lookupTerm(MATTERS, o.session.matter);
      if (!matter) throw new RecgwError('config', `gpio.session.matter ${JSON.stringify(o.session.matter)} is not a matter type: use one of ${MATTERS.map((m) => `${m.zh} (${m.code})`).join(', ')}`);
      const officers = o.session.officers.map(parseOfficer);
      if (officers.length === 0) throw new RecgwError('config', 'gpio.session.officers needs at least one "name:执法证号"');
      this.request = { matter: matter.code, caseRef: '', officers };
    }
    if (!o.markEvent) {
      const marks = o.inputs.filter((i) => i.config.action === 'mark-event');
      if (marks.length > 0) throw new RecgwError('internal', `gpio: ${marks.map((i) => i.config.name).join(', ')} mark events, but nothing was given to write them`);
    }
    this.inputs = o.inputs.map(({ config, pin }) => ({ config, pin, active: false, last: false, burstAt: undefined, timer: undefined, unwatch: undefined, busy: false }));
  }

  /** Watch the inputs. Call after the recorder has started (a level input active now may start a session). */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const inp of this.inputs) {
      let raw: PinValue = 0;
      try {
        raw = inp.pin.read();
      } catch (err) {
        this.o.log.error('input: cannot read, taken as inactive', { input: inp.config.name, pin: inp.config.pin, error: describe(err) });
      }
      inp.active = inp.last = this.logical(inp, raw);
      inp.unwatch = inp.pin.watch((value, at) => this.edge(inp, value, at));
      this.o.log.info('input watched', { input: inp.config.name, pin: inp.config.pin, action: inp.config.action, active: inp.active });
      if (inp.active && !MOMENTARY.has(inp.config.name)) {
        const work = workFor(inp.config.name, inp.config.action, true);
        if (work === 'start') this.act(inp, work, true, this.t.now());
      }
    }
  }

  /** Stop watching; actions not yet begun are dropped, the one running is waited for. */
  async stop(): Promise<void> {
    this.running = false;
    for (const inp of this.inputs) {
      inp.unwatch?.();
      inp.unwatch = undefined;
      this.t.clearTimeout(inp.timer);
      inp.timer = undefined;
      inp.burstAt = undefined;
    }
    await this.queue;
  }

  /** Resolves when every action asked for so far has finished (tests; shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Each input's debounced state (for status and tests). */
  states(): { name: InputName; pin: number; action: InputAction; active: boolean }[] {
    return this.inputs.map((i) => ({ name: i.config.name, pin: i.config.pin, action: i.config.action, active: i.active }));
  }

  private logical(inp: InputState, raw: PinValue): boolean {
    return inp.config.activeLow ? raw === 0 : raw === 1;
  }

  private edge(inp: InputState, raw: PinValue, at: number): void {
    if (!this.running) return;
    const v = this.logical(inp, raw);
    if (inp.config.debounceMs <= 0) {
      inp.last = v;
      this.settle(inp, v, at);
      return;
    }
    inp.last = v;
    inp.burstAt ??= at;
    this.t.clearTimeout(inp.timer);
    inp.timer = this.t.setTimeout(() => {
      const first = inp.burstAt ?? at;
      inp.timer = undefined;
      inp.burstAt = undefined;
      this.settle(inp, inp.last, first);
    }, inp.config.debounceMs);
  }

  private settle(inp: InputState, active: boolean, at: number): void {
    if (active === inp.active) return;
    inp.active = active;
    const { name, pin, action } = inp.config;
    this.o.log.info('input changed', { input: name, pin, active, at: new Date(at).toISOString() });
    const work = workFor(name, action, active);
    if (work) this.act(inp, work, active, at);
  }

  private act(inp: InputState, work: Work, active: boolean, at: number): void {
    const { name, pin } = inp.config;
    if (MOMENTARY.has(name) && inp.busy) {
      this.o.log.warn('input ignored: its previous action is still running', { input: name, pin });
      return;
    }
    inp.busy = true;
    const run = async (): Promise<void> => {
      try {
        if (this.running) await this.perform(inp, work, active, at);
      } finally {
        inp.busy = false;
      }
    };
    this.queue = this.queue.then(run).catch((err: unknown) => this.refused(inp, work, err));
  }

  private async perform(inp: InputState, work: Work, active: boolean, at: number): Promise<void> {
    const { name, pin } = inp.config;
    if (work === 'mark') {
      const mark: EventMark = { input: name, pin, state: active ? 'active' : 'inactive', time: new Date(at).toISOString() };
      await this.o.markEvent!(mark);
      this.o.log.info('event marked', { ...mark });
      return;
    }
    const st = await this.o.recorder.status();
    const open = st.session !== null && st.session.state !== 'closed';
    const todo = work === 'toggle' ? (open ? 'stop' : 'start') : work;
    if (todo === 'start') {
      if (open) return this.o.log.info('input asks to start, but a session is open already: nothing to do', { input: name, session: st.session?.sessionId });
      await this.o.recorder.startSession(this.request!);
      this.o.log.info('session started by input', { input: name, pin });
    } else {
      if (!open) return this.o.log.info('input asks to stop, but no session is open: nothing to do', { input: name });
      await this.o.recorder.stopSession();
      this.o.log.info('session stopped by input', { input: name, pin, session: st.session?.sessionId });
    }
  }

  private refused(inp: InputState, work: Work, err: unknown): void {
    const { name, pin, action } = inp.config;
    this.o.log.error('input action failed', { input: name, pin, action, work, error: describe(err) });
    try {
      this.o.alarm?.signalError(`${name}: ${describe(err)}`);
    } catch (e) {
      this.o.log.error('cannot sound the buzzer', { error: describe(e) });
    }
  }
}
