/**
 * GPIO as the rest of recgw sees it: outputs that are on or off, inputs that report edges. Pins are named by their
 * BCM number (the numbers printed on Raspberry Pi pinout charts), never by a kernel number: the backend maps one
 * to the other. Only src/hal/gpio knows how (onoff over sysfs, or the simulation).
 */
import { RecgwError } from '../../util/errors.js';

/** An electrical level as read from the pin (1 = high), before any active-low inversion. */
export type PinValue = 0 | 1;

export interface GpioOut {
  readonly bcm: number;
  /** What the pin is for (lamp, buzzer): used in messages. */
  readonly name: string;
  /** Drive the pin high (on) or low. Never throws: a write that fails at run time is logged by the backend. */
  set(on: boolean): void;
  /** Drive low and release (unexport) the pin. Idempotent. */
  close(): void;
}

export interface GpioIn {
  readonly bcm: number;
  /** The input's config name (record-button, door, ...): used in messages. */
  readonly name: string;
  /** The current electrical level. */
  read(): PinValue;
  /**
   * Be told of every level change, with the time (ms since the epoch) it was seen. No debounce here: contact
   * bounce arrives as several calls and is the caller's business. Returns the function that stops watching.
   */
  watch(cb: (value: PinValue, at: number) => void): () => void;
  /** Stop watching and release (unexport) the pin. Idempotent. */
  close(): void;
}

export interface GpioBackend {
  readonly kind: 'sysfs' | 'sim';
  /** Open a pin as an output, driven low. Throws RecgwError('hardware' | 'config') with the pin and the fix. */
  output(bcm: number, name: string): GpioOut;
  /** Open a pin as an input watching both edges. Throws like output(). */
  input(bcm: number, name: string): GpioIn;
  /** Close every pin still open. Idempotent. */
  close(): void;
}

/**
 * The pins a backend has handed out, so that one pin configured twice (lamp and an input on BCM 17) fails at start
 * instead of two parts of recgw fighting over it.
 */
export class PinClaims {
  private readonly byPin = new Map<number, string>();

  claim(bcm: number, name: string): void {
    if (!Number.isInteger(bcm) || bcm < 0 || bcm > 63) {
      throw new RecgwError('config', `gpio: ${name} names BCM ${bcm}, which is not a BCM pin number (0-63; the 40-pin header has BCM 0-27)`);
    }
    const other = this.byPin.get(bcm);
    if (other !== undefined) throw new RecgwError('config', `gpio: BCM ${bcm} is configured twice, for ${other} and for ${name}: give each its own pin`);
    this.byPin.set(bcm, name);
  }

  release(bcm: number): void {
    this.byPin.delete(bcm);
  }
}
