/**
 * The tally lamp outside the room and the fault buzzer, driven by the recorder's status.
 *
 * Lamp: off while no session is open (even with a fault: a lit lamp tells people outside that the room is being
 * recorded, which must never be claimed when it is not); steady while a session records and all is well;
 * blinking while the session is paused or interrupted (an open interruption), a source is down or storage is full;
 * blinking fast (four times as fast) while all is well and the gateway listens for the officers to state the reason
 * for an interruption after a resume (src/recorder/explanation.ts), so they see it is waiting for them.
 *
 * Buzzer: a short burst of beeps when a fault appears (a source goes down, storage fills), not continuously; the
 * same fault beeps again only after faultRepeatMs, so a camera flapping between down and up does not keep the room
 * beeping. A covered or silent source is not a buzzer fault (a quiet interview must not set it off); it opens an
 * interruption, so the lamp blinks. signalError() gives one long beep: an input's action was refused.
 */
import type { RecorderStatus } from '../recorder/recorder.js';
import type { GpioOut } from '../hal/gpio/types.js';
import type { Logger } from '../util/log.js';
import { realTimers, type Timers } from './timers.js';

export type LampMode = 'off' | 'steady' | 'blink' | 'listen';

export interface BeepPattern {
  count: number;
  onMs: number;
  offMs: number;
}

/** Three short beeps: a fault appeared. */
export const FAULT_BEEP: BeepPattern = { count: 3, onMs: 150, offMs: 150 };
/** One long beep: what an input asked for was refused (pre-flight failed, ...). */
export const ERROR_BEEP: BeepPattern = { count: 1, onMs: 800, offMs: 200 };
/** Silence between two bursts, so they are heard as two. */
export const BURST_GAP_MS = 600;

/** The lamp for a status (pure). */
export function lampModeFor(st: RecorderStatus): LampMode {
  const s = st.session;
  if (!s || s.state === 'closed') return 'off';
  const troubled = s.state === 'paused' || s.interruptions.some((i) => i.end === null) || st.sources.some((x) => x.down !== null) || st.storage.full;
  return troubled ? 'blink' : st.listening ? 'listen' : 'steady';
}

/** The faults in a status that the buzzer announces (pure): `source-down:<id>` and `storage-full`. */
export function faultsOf(st: RecorderStatus): string[] {
  const out = st.sources.filter((x) => x.down !== null).map((x) => `source-down:${x.id}`);
  if (st.storage.full) out.push('storage-full');
  return out;
}

/** Where the status comes from: the recorder (its 'changed' event and status()). */
export interface StatusSource {
  on(event: 'changed', listener: (st: RecorderStatus) => void): unknown;
  off(event: 'changed', listener: (st: RecorderStatus) => void): unknown;
  status(): Promise<RecorderStatus>;
}

export interface TallyOptions {
  lamp?: GpioOut;
  buzzer?: GpioOut;
  log: Logger;
  timers?: Timers;
  /** One on-off cycle of the blinking lamp; default 1000 (1 Hz, half on, half off). */
  blinkPeriodMs?: number;
  faultBeep?: BeepPattern;
  errorBeep?: BeepPattern;
  /** The same fault beeps again only this long after it last did; default 60 s. */
  faultRepeatMs?: number;
}

export class Tally {
  private readonly t: Timers;
  private readonly blinkHalfMs: number;
  private readonly faultBeep: BeepPattern;
  private readonly errorBeep: BeepPattern;
  private readonly faultRepeatMs: number;
  private lamp: LampMode = 'off';
  private lampLit = false;
  private blinkTimer: unknown;
  private faults = new Set<string>();
  private readonly lastBeep = new Map<string, number>();
  private buzzing = false;
  private pendingBurst: BeepPattern | null = null;
  private buzzTimer: unknown;
  private source: StatusSource | undefined;
  private readonly listener = (st: RecorderStatus): void => {
    this.changes++;
    this.update(st);
  };
  private changes = 0;
  private stopped = false;

  constructor(private readonly o: TallyOptions) {
    this.t = o.timers ?? realTimers;
    this.blinkHalfMs = Math.max(1, Math.round((o.blinkPeriodMs ?? 1000) / 2));
    this.faultBeep = o.faultBeep ?? FAULT_BEEP;
    this.errorBeep = o.errorBeep ?? ERROR_BEEP;
    this.faultRepeatMs = o.faultRepeatMs ?? 60_000;
  }

  /** Follow the recorder: its current status now, then every 'changed'. Call after the recorder has started. */
  async start(source: StatusSource): Promise<void> {
    this.stopped = false;
    this.source = source;
    source.on('changed', this.listener);
    const seen = this.changes;
    const st = await source.status();
    // A 'changed' that arrived meanwhile is newer than this answer.
    if (this.changes === seen && !this.stopped) this.update(st);
  }

  /** Show a status: set the lamp, beep for new faults. */
  update(st: RecorderStatus): void {
    if (this.stopped) return;
    this.setLamp(lampModeFor(st));
    const now = this.t.now();
    const current = new Set(faultsOf(st));
    const fresh = [...current].filter((f) => !this.faults.has(f) && now - (this.lastBeep.get(f) ?? -Infinity) >= this.faultRepeatMs);
    const cleared = [...this.faults].filter((f) => !current.has(f));
    this.faults = current;
    if (cleared.length > 0) this.o.log.info('fault cleared', { faults: cleared });
    if (fresh.length === 0) return;
    for (const f of fresh) this.lastBeep.set(f, now);
    this.o.log.warn('fault: sounding the buzzer', { faults: fresh });
    this.beep(this.faultBeep);
  }

  /** One long beep: an action asked for at an input failed. */
  signalError(reason: string): void {
    if (this.stopped) return;
    this.o.log.warn('refused: sounding the buzzer', { reason });
    this.beep(this.errorBeep);
  }

  mode(): LampMode {
    return this.lamp;
  }

  /** Stop following the recorder; lamp and buzzer off. */
  stop(): void {
    this.stopped = true;
    this.source?.off('changed', this.listener);
    this.source = undefined;
    this.t.clearInterval(this.blinkTimer);
    this.t.clearTimeout(this.buzzTimer);
    this.blinkTimer = undefined;
    this.buzzTimer = undefined;
    this.buzzing = false;
    this.pendingBurst = null;
    this.lamp = 'off';
    this.lampLit = false;
    this.o.lamp?.set(false);
    this.o.buzzer?.set(false);
  }

  private setLamp(mode: LampMode): void {
    // Same mode: leave a blinking lamp alone so its cadence stays even however often the status changes.
    if (mode === this.lamp) return;
    this.o.log.info('tally lamp', { from: this.lamp, to: mode });
    this.lamp = mode;
    this.t.clearInterval(this.blinkTimer);
    this.blinkTimer = undefined;
    this.light(mode !== 'off');
    if (mode === 'blink' || mode === 'listen') {
      this.blinkTimer = this.t.setInterval(() => this.light(!this.lampLit), mode === 'blink' ? this.blinkHalfMs : Math.max(1, Math.round(this.blinkHalfMs / 4)));
    }
  }

  private light(on: boolean): void {
    this.lampLit = on;
    this.o.lamp?.set(on);
  }

  private beep(p: BeepPattern): void {
    if (!this.o.buzzer) return;
    if (this.buzzing) {
      // One burst waits; more would only make the buzzer go on after the faults are long known.
      this.pendingBurst = p;
      return;
    }
    this.buzzing = true;
    this.beepStep(p, 0);
  }

  private beepStep(p: BeepPattern, i: number): void {
    const buzzer = this.o.buzzer!;
    buzzer.set(true);
    this.buzzTimer = this.t.setTimeout(() => {
      buzzer.set(false);
      if (i + 1 < p.count) {
        this.buzzTimer = this.t.setTimeout(() => this.beepStep(p, i + 1), p.offMs);
        return;
      }
      const next = this.pendingBurst;
      this.pendingBurst = null;
      if (!next) {
        this.buzzing = false;
        this.buzzTimer = undefined;
        return;
      }
      this.buzzTimer = this.t.setTimeout(() => this.beepStep(next, 0), Math.max(p.offMs, BURST_GAP_MS));
    }, p.onMs);
  }
}
