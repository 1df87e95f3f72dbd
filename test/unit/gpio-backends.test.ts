/**
 * The GPIO backends. onoff cannot run here (no /sys/class/gpio on the build machine): the sysfs backend is given a
 * fake onoff Gpio class and a fake sysfs tree, which checks what it asks onoff for (base + BCM, direction, edge)
 * and how it reports onoff's errors. The sim backend is the one the indicator tests run on.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SysfsGpioBackend, type OnoffGpio, type OnoffGpioClass } from '../../src/hal/gpio/sysfs.js';
import { SimGpioBackend } from '../../src/hal/gpio/sim.js';
import { openGpio } from '../../src/hal/gpio/index.js';
import type { PinValue } from '../../src/hal/gpio/types.js';
import { createLogger, silentLogger } from '../../src/util/log.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'recgw-gpio-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function sysfs(base: number, label = 'pinctrl-bcm2711', ngpio = 58): string {
  const gpio = join(root, 'gpio');
  mkdirSync(join(gpio, `gpiochip${base}`), { recursive: true });
  writeFileSync(join(gpio, 'export'), '');
  writeFileSync(join(gpio, `gpiochip${base}`, 'base'), `${base}\n`);
  writeFileSync(join(gpio, `gpiochip${base}`, 'ngpio'), `${ngpio}\n`);
  writeFileSync(join(gpio, `gpiochip${base}`, 'label'), `${label}\n`);
  return gpio;
}

/** A stand-in for onoff's Gpio: records how it was constructed, fails as told. */
function fakeOnoff(fail: Record<number, string> = {}) {
  const made: { n: number; direction: string; edge: string | undefined; fake: FakeGpio }[] = [];
  class FakeGpio implements OnoffGpio {
    value: PinValue = 0;
    writes: PinValue[] = [];
    listeners: ((err: Error | null | undefined, v: PinValue) => void)[] = [];
    unexported = false;
    failWrites = false;
    constructor(n: number, direction: 'in' | 'out' | 'high' | 'low', edge?: 'none' | 'rising' | 'falling' | 'both') {
      if (fail[n]) throw Object.assign(new Error(`${fail[n]}: simulated, write`), { code: fail[n] });
      made.push({ n, direction, edge, fake: this });
    }
    readSync(): PinValue {
      return this.value;
    }
    writeSync(v: PinValue): void {
      if (this.failWrites) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      this.writes.push(v);
    }
    watch(cb: (err: Error | null | undefined, v: PinValue) => void): void {
      this.listeners.push(cb);
    }
    unwatch(cb?: (err: Error | null | undefined, v: PinValue) => void): void {
      this.listeners = cb ? this.listeners.filter((l) => l !== cb) : [];
    }
    unexport(): void {
      this.unexported = true;
    }
  }
  return { made, Gpio: FakeGpio as OnoffGpioClass };
}

describe('sysfs backend (fake onoff, fake sysfs tree)', () => {
  it('base 512: BCM 17 is exported as gpio529, outputs open low, inputs watch both edges', async () => {
    const { made, Gpio } = fakeOnoff();
    const b = await SysfsGpioBackend.open({ log: silentLogger, gpioRoot: sysfs(512), gpioClass: Gpio, now: () => 1234 });
    const lamp = b.output(17, 'lamp');
    const button = b.input(27, 'record-button');
    expect(made.map((m) => [m.n, m.direction, m.edge])).toEqual([
      [529, 'low', undefined],
      [539, 'in', 'both'],
    ]);
    lamp.set(true);
    lamp.set(false);
    expect(made[0]!.fake.writes).toEqual([1, 0]);
    const seen: [PinValue, number][] = [];
    const unwatch = button.watch((v, at) => seen.push([v, at]));
    made[1]!.fake.value = 1;
    for (const l of made[1]!.fake.listeners) l(null, 1);
    expect(seen).toEqual([[1, 1234]]);
    expect(button.read()).toBe(1);
    unwatch();
    expect(made[1]!.fake.listeners).toHaveLength(0);
    b.close();
    // Closing drives the output low before unexporting it.
    expect(made[0]!.fake.writes.at(-1)).toBe(0);
    expect(made.every((m) => m.fake.unexported)).toBe(true);
  });

  it('base 0 (kernels before 6.6): BCM 17 is gpio17', async () => {
    const { made, Gpio } = fakeOnoff();
    const b = await SysfsGpioBackend.open({ log: silentLogger, gpioRoot: sysfs(0), gpioClass: Gpio });
    b.output(17, 'lamp');
    expect(made[0]!.n).toBe(17);
    expect(b.sysfsNumber(4)).toBe(4);
  });

  it('Pi 5: numbers from the pinctrl-rp1 base (571)', async () => {
    const { made, Gpio } = fakeOnoff();
    const b = await SysfsGpioBackend.open({ log: silentLogger, gpioRoot: sysfs(571, 'pinctrl-rp1', 54), gpioClass: Gpio });
    b.input(5, 'door');
    expect(made[0]!.n).toBe(576);
  });

  it("onoff's errors become messages naming the pin and the fix", async () => {
    const { Gpio } = fakeOnoff({ 529: 'EACCES', 530: 'EBUSY', 531: 'EINVAL' });
    const b = await SysfsGpioBackend.open({ log: silentLogger, gpioRoot: sysfs(512), gpioClass: Gpio });
    expect(() => b.output(17, 'lamp')).toThrow(/lamp on BCM 17 \(sysfs gpio529 = pinctrl-bcm2711 base 512 \+ 17\).*permission denied.*group gpio/);
    expect(() => b.output(18, 'buzzer')).toThrow(/buzzer on BCM 18.*in use by a kernel driver.*dtoverlay.*pinctrl get 18/);
    expect(() => b.input(19, 'door')).toThrow(/refused to export gpio531.*EINVAL/);
    // A pin that failed is not left claimed.
    expect(() => b.output(17, 'lamp')).toThrow(/permission denied/);
  });

  it('a pin configured twice, or beyond the chip, fails at start', async () => {
    const { Gpio } = fakeOnoff();
    const b = await SysfsGpioBackend.open({ log: silentLogger, gpioRoot: sysfs(512, 'pinctrl-bcm2835', 54), gpioClass: Gpio });
    b.output(17, 'lamp');
    expect(() => b.input(17, 'door')).toThrow(/BCM 17 is configured twice, for lamp and for door/);
    expect(() => b.input(60, 'ignition')).toThrow(/only 54 lines/);
  });

  it('a write failing at run time is logged once, never thrown (the lamp must not stop recording)', async () => {
    const lines: string[] = [];
    const { made, Gpio } = fakeOnoff();
    const b = await SysfsGpioBackend.open({ log: createLogger('t', { sink: (l) => lines.push(l), level: 'info' }), gpioRoot: sysfs(512), gpioClass: Gpio });
    const lamp = b.output(17, 'lamp');
    made[0]!.fake.failWrites = true;
    expect(() => {
      lamp.set(true);
      lamp.set(false);
    }).not.toThrow();
    expect(lines.filter((l) => l.includes('cannot write output'))).toHaveLength(1);
  });

  it('an already exported pin (left by a crashed run) is taken over with a warning', async () => {
    const lines: string[] = [];
    const { made, Gpio } = fakeOnoff();
    const gpio = sysfs(512);
    mkdirSync(join(gpio, 'gpio529'));
    const b = await SysfsGpioBackend.open({ log: createLogger('t', { sink: (l) => lines.push(l), level: 'info' }), gpioRoot: gpio, gpioClass: Gpio });
    b.output(17, 'lamp');
    expect(made).toHaveLength(1);
    expect(lines.some((l) => l.includes('already exported'))).toBe(true);
  });

  it('no sysfs GPIO: openGpio fails at start with the reason', async () => {
    const { Gpio } = fakeOnoff();
    await expect(openGpio({ backend: 'sysfs' }, { log: silentLogger, sysfs: { gpioRoot: join(root, 'nothing'), gpioClass: Gpio } })).rejects.toThrow(/does not exist/);
  });

  it('a test root without a fake onoff is refused (onoff itself only knows /sys/class/gpio)', async () => {
    await expect(SysfsGpioBackend.open({ log: silentLogger, gpioRoot: sysfs(512) })).rejects.toThrow(/needs an injected gpioClass/);
  });
});

describe('sim backend', () => {
  it('outputs keep their level and history; inputs are driven, with edges only', () => {
    let now = 0;
    const sim = new SimGpioBackend({ now: () => now });
    const lamp = sim.output(17, 'lamp');
    const door = sim.input(22, 'door');
    const seen: [PinValue, number][] = [];
    door.watch((v, at) => seen.push([v, at]));
    now = 10;
    lamp.set(true);
    lamp.set(true);
    now = 20;
    lamp.set(false);
    expect(sim.changes(17)).toEqual([
      { at: 10, on: true },
      { at: 20, on: false },
    ]);
    sim.drive(22, 1);
    sim.drive(22, 1);
    sim.drive(22, 0, 99);
    expect(seen).toEqual([
      [1, 20],
      [0, 99],
    ]);
    expect(() => sim.input(17, 'ignition')).toThrow(/configured twice/);
    sim.close();
    expect(sim.opened().size).toBe(0);
  });

  it('an input level set before opening is read at open (a switch already closed at start-up)', async () => {
    const sim = new SimGpioBackend();
    sim.drive(5, 1);
    expect((await openGpio({ backend: 'sim' }, { log: silentLogger, sim })).input(5, 'ignition').read()).toBe(1);
  });

  it('unavailable pins fail to open like a busy pin would', () => {
    const sim = new SimGpioBackend({ unavailable: [4] });
    expect(() => sim.output(4, 'lamp')).toThrow(/cannot open lamp on BCM 4/);
    expect(() => sim.output(4, 'lamp')).toThrow(/unavailable/);
  });
});
