/**
 * Simulated GPIO: in-memory pins for tests and the demo (the build machine has no GPIO at all). Outputs remember
 * their level and its history; inputs are driven by the test, which is what a person pressing a button or a car's
 * ignition would do. Same claims and errors as the sysfs backend for a pin configured twice.
 */
import type { Logger } from '../../util/log.js';
import { RecgwError } from '../../util/errors.js';
import { PinClaims, type GpioBackend, type GpioIn, type GpioOut, type PinValue } from './types.js';

export interface SimGpioOptions {
  now?: () => number;
  /** Output changes are logged at debug level (the demo's lamp). */
  log?: Logger;
  /** BCM pins that fail to open, as a missing or busy pin would on a Pi. */
  unavailable?: number[];
}

interface SimPin {
  name: string;
  direction: 'in' | 'out';
  level: PinValue;
  changes: { at: number; on: boolean }[];
  watchers: Set<(value: PinValue, at: number) => void>;
}

export class SimGpioBackend implements GpioBackend {
  readonly kind = 'sim' as const;
  private readonly claims = new PinClaims();
  private readonly pins = new Map<number, SimPin>();
  /** Input levels set before the pin was opened (a switch already closed at start-up). */
  private readonly preset = new Map<number, PinValue>();
  private readonly now: () => number;

  constructor(private readonly o: SimGpioOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  output(bcm: number, name: string): GpioOut {
    const pin = this.openPin(bcm, name, 'out');
    return {
      bcm,
      name,
      set: (on) => {
        if (this.pins.get(bcm) !== pin) return;
        const level: PinValue = on ? 1 : 0;
        if (level === pin.level) return;
        pin.level = level;
        pin.changes.push({ at: this.now(), on });
        this.o.log?.debug('gpio(sim): output', { pin: bcm, name, on });
      },
      close: () => this.closePin(bcm, pin),
    };
  }

  input(bcm: number, name: string): GpioIn {
    const pin = this.openPin(bcm, name, 'in');
    pin.level = this.preset.get(bcm) ?? 0;
    return {
      bcm,
      name,
      read: () => pin.level,
      watch: (cb) => {
        pin.watchers.add(cb);
        return () => void pin.watchers.delete(cb);
      },
      close: () => this.closePin(bcm, pin),
    };
  }

  close(): void {
    for (const [bcm, pin] of [...this.pins]) this.closePin(bcm, pin);
  }

  // ---- the test's (or demo's) side ----------------------------------------------------------------------------

  /** Set an input's electrical level; watchers hear of it when it changes (an edge), at `at` or now. */
  drive(bcm: number, value: PinValue | boolean, at?: number): void {
    const level: PinValue = value === true || value === 1 ? 1 : 0;
    const pin = this.pins.get(bcm);
    if (!pin) {
      this.preset.set(bcm, level);
      return;
    }
    if (pin.direction !== 'in') throw new RecgwError('internal', `gpio(sim): BCM ${bcm} is an output (${pin.name}), not an input`);
    if (pin.level === level) return;
    pin.level = level;
    const t = at ?? this.now();
    for (const w of [...pin.watchers]) w(level, t);
  }

  /** An output's level (false when closed or never opened). */
  level(bcm: number): boolean {
    return this.pins.get(bcm)?.level === 1;
  }

  /** Every change of an output since it was opened. */
  changes(bcm: number): { at: number; on: boolean }[] {
    return [...(this.pins.get(bcm)?.changes ?? [])];
  }

  /** What is open: BCM pin to its name and direction. */
  opened(): Map<number, { name: string; direction: 'in' | 'out' }> {
    return new Map([...this.pins].map(([bcm, p]) => [bcm, { name: p.name, direction: p.direction }]));
  }

  private openPin(bcm: number, name: string, direction: 'in' | 'out'): SimPin {
    this.claims.claim(bcm, name);
    if (this.o.unavailable?.includes(bcm)) {
      this.claims.release(bcm);
      throw new RecgwError('hardware', `gpio(sim): cannot open ${name} on BCM ${bcm}: the pin is unavailable (simulated)`);
    }
    const pin: SimPin = { name, direction, level: 0, changes: [], watchers: new Set() };
    this.pins.set(bcm, pin);
    return pin;
  }

  private closePin(bcm: number, pin: SimPin): void {
    if (this.pins.get(bcm) !== pin) return;
    if (pin.direction === 'out' && pin.level === 1) {
      pin.level = 0;
      pin.changes.push({ at: this.now(), on: false });
    }
    pin.watchers.clear();
    this.pins.delete(bcm);
    this.claims.release(bcm);
  }
}
