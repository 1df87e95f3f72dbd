/**
 * GPIO through the kernel's sysfs interface, with onoff. At open it finds the header chip and its base (chip.ts),
 * checks that /sys/class/gpio/export may be written, and loads onoff; each pin is then exported as `base + bcm`.
 * Everything that can go wrong on a real Pi (no sysfs, no permission, a pin claimed by an overlay or another
 * program) fails here, at start, with a message naming the pin and the fix.
 *
 * onoff always works on /sys/class/gpio. `gpioRoot` moves only the detection and the checks, so tests can run them
 * against a folder tree of their own; a different root therefore needs an injected `gpioClass` too.
 */
import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/log.js';
import { RecgwError, describe, isENOENT, isErrno } from '../../util/errors.js';
import { DEFAULT_GPIO_ROOT, detectHeaderChip, type GpioChipInfo } from './chip.js';
import { PinClaims, type GpioBackend, type GpioIn, type GpioOut, type PinValue } from './types.js';

/** The part of onoff's Gpio that recgw uses (onoff's own class satisfies it). */
export interface OnoffGpio {
  readSync(): PinValue;
  writeSync(value: PinValue): void;
  watch(cb: (err: Error | null | undefined, value: PinValue) => void): void;
  unwatch(cb?: (err: Error | null | undefined, value: PinValue) => void): void;
  unexport(): void;
}
export type OnoffGpioClass = new (gpio: number, direction: 'in' | 'out' | 'high' | 'low', edge?: 'none' | 'rising' | 'falling' | 'both') => OnoffGpio;

export interface SysfsGpioOptions {
  log: Logger;
  /** Where the sysfs GPIO class is; default /sys/class/gpio. */
  gpioRoot?: string;
  /** onoff's Gpio class; tests inject a fake (onoff cannot run on a machine without GPIO). Default: onoff's. */
  gpioClass?: OnoffGpioClass;
  now?: () => number;
}

const GROUP_FIX = 'add the service user to group gpio (sudo usermod -aG gpio <user>) and restart the service, or run the service as root';

export class SysfsGpioBackend implements GpioBackend {
  readonly kind = 'sysfs' as const;
  private readonly claims = new PinClaims();
  private readonly open = new Set<{ close(): void }>();
  private readonly now: () => number;

  private constructor(
    readonly chip: GpioChipInfo,
    private readonly gpioRoot: string,
    private readonly Gpio: OnoffGpioClass,
    private readonly log: Logger,
    now: (() => number) | undefined,
  ) {
    this.now = now ?? Date.now;
  }

  /** Find the header chip, check access and load onoff. Throws RecgwError('hardware') with the fix. */
  static async open(o: SysfsGpioOptions): Promise<SysfsGpioBackend> {
    const root = o.gpioRoot ?? DEFAULT_GPIO_ROOT;
    if (root !== DEFAULT_GPIO_ROOT && !o.gpioClass) {
      throw new RecgwError('internal', `gpio: onoff always uses ${DEFAULT_GPIO_ROOT}; a gpioRoot of ${root} needs an injected gpioClass`);
    }
    const chip = await detectHeaderChip(root);
    const exportFile = join(root, 'export');
    try {
      await access(exportFile, constants.W_OK);
    } catch (err) {
      if (isENOENT(err)) throw new RecgwError('hardware', `gpio: ${exportFile} does not exist: this kernel's sysfs GPIO interface is incomplete`, { cause: err });
      throw new RecgwError('hardware', `gpio: cannot write ${exportFile} (${(err as NodeJS.ErrnoException).code ?? describe(err)}): ${GROUP_FIX}`, { cause: err });
    }
    let Gpio = o.gpioClass;
    if (!Gpio) {
      try {
        Gpio = (await import('onoff')).Gpio;
      } catch (err) {
        throw new RecgwError('hardware', `gpio: onoff cannot be loaded (${describe(err)}): its native epoll module must be built on this machine (npm ci)`, { cause: err });
      }
    }
    o.log.info('gpio: header chip found', { label: chip.label, base: chip.base, ngpio: chip.ngpio, dir: chip.dir });
    return new SysfsGpioBackend(chip, root, Gpio, o.log, o.now);
  }

  /** The sysfs number of a BCM pin: the chip base plus the BCM number. */
  sysfsNumber(bcm: number): number {
    return this.chip.base + bcm;
  }

  output(bcm: number, name: string): GpioOut {
    const { gpio, n } = this.export(bcm, name, 'out');
    let failing = false;
    let closed = false;
    const out: GpioOut = {
      bcm,
      name,
      set: (on) => {
        if (closed) return;
        try {
          gpio.writeSync(on ? 1 : 0);
          if (failing) this.log.info('gpio: output works again', { pin: bcm, name });
          failing = false;
        } catch (err) {
          // A lamp that cannot be switched must not stop recording: log once per run of failures.
          if (!failing) this.log.error('gpio: cannot write output', { pin: bcm, sysfs: n, name, error: describe(err) });
          failing = true;
        }
      },
      close: () => {
        if (closed) return;
        out.set(false);
        closed = true;
        this.release(bcm, gpio, out);
      },
    };
    this.open.add(out);
    return out;
  }

  input(bcm: number, name: string): GpioIn {
    const { gpio, n } = this.export(bcm, name, 'in');
    const listeners = new Set<(err: Error | null | undefined, value: PinValue) => void>();
    let closed = false;
    const inp: GpioIn = {
      bcm,
      name,
      read: () => gpio.readSync(),
      watch: (cb) => {
        const l = (err: Error | null | undefined, value: PinValue): void => {
          if (err) return this.log.error('gpio: input error', { pin: bcm, sysfs: n, name, error: describe(err) });
          cb(value, this.now());
        };
        listeners.add(l);
        gpio.watch(l);
        return () => {
          if (!listeners.delete(l) || closed) return;
          gpio.unwatch(l);
        };
      },
      close: () => {
        if (closed) return;
        closed = true;
        listeners.clear();
        this.release(bcm, gpio, inp);
      },
    };
    this.open.add(inp);
    return inp;
  }

  close(): void {
    for (const p of [...this.open]) p.close();
  }

  private export(bcm: number, name: string, direction: 'in' | 'out'): { gpio: OnoffGpio; n: number } {
    this.claims.claim(bcm, name);
    const n = this.sysfsNumber(bcm);
    const where = `${name} on BCM ${bcm} (sysfs gpio${n} = ${this.chip.label} base ${this.chip.base} + ${bcm})`;
    if (bcm >= this.chip.ngpio) {
      this.claims.release(bcm);
      throw new RecgwError('config', `gpio: ${where}: the header chip has only ${this.chip.ngpio} lines`);
    }
    // Exported already: by a previous run that ended without unexporting (a crash, a power cut) or by another
    // program. onoff takes an exported pin over; say so, since a second program would fight over it.
    if (existsSync(join(this.gpioRoot, `gpio${n}`))) this.log.warn('gpio: pin already exported, taking it over', { pin: bcm, sysfs: n, name });
    try {
      // 'out' opens as 'low' so the lamp or buzzer does not flash at start.
      const gpio = direction === 'out' ? new this.Gpio(n, 'low') : new this.Gpio(n, 'in', 'both');
      return { gpio, n };
    } catch (err) {
      this.claims.release(bcm);
      throw openError(err, where, bcm, n);
    }
  }

  private release(bcm: number, gpio: OnoffGpio, pin: { close(): void }): void {
    this.open.delete(pin);
    this.claims.release(bcm);
    try {
      gpio.unexport();
    } catch (err) {
      this.log.warn('gpio: cannot unexport', { pin: bcm, error: describe(err) });
    }
  }
}

/** Turn what onoff threw while exporting a pin into a message with the pin and the fix. */
export function openError(err: unknown, where: string, bcm: number, n: number): RecgwError {
  const cause = { cause: err };
  if (isErrno(err, 'EACCES') || isErrno(err, 'EPERM')) {
    return new RecgwError('hardware', `gpio: cannot open ${where}: permission denied: ${GROUP_FIX}`, cause);
  }
  if (isErrno(err, 'EBUSY')) {
    return new RecgwError(
      'hardware',
      `gpio: cannot open ${where}: the pin is in use by a kernel driver or another program. Check /boot/firmware/config.txt for a ` +
        `dtoverlay or dtparam that uses BCM ${bcm} (gpio-shutdown, gpio-fan, w1-gpio, i2c, spi, uart, pwm, audio), and see ` +
        `"pinctrl get ${bcm}" or "gpioinfo"; remove the overlay or choose another pin`,
      cause,
    );
  }
  if (isErrno(err, 'EINVAL')) {
    return new RecgwError(
      'hardware',
      `gpio: the kernel refused to export gpio${n} for ${where} (EINVAL: no such line). The chip base was read from sysfs, so ` +
        `this should not happen: report it with the output of "grep . /sys/class/gpio/gpiochip*/{base,label,ngpio}" (cf. onoff issues #199/#200)`,
      cause,
    );
  }
  if (isENOENT(err)) return new RecgwError('hardware', `gpio: cannot open ${where}: ${describe(err)}: the sysfs GPIO interface is missing or the pin did not appear after export`, cause);
  return new RecgwError('hardware', `gpio: cannot open ${where}: ${describe(err)}`, cause);
}
