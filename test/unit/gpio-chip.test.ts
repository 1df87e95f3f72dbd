/**
 * Finding the Raspberry Pi header chip and its sysfs base, against fake /sys/class/gpio trees in a temp folder.
 * The build machine has no GPIO at all (no /sys/class/gpio, no gpio-sim), so the trees below copy what real Pis
 * show; the layouts are the point: base 512 on kernels 6.6+ (onoff issues #199/#200), base 0 before, and a Pi 5
 * whose chip at 512 is NOT the header.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectHeaderChip, listGpioChips } from '../../src/hal/gpio/chip.js';
import { RecgwError } from '../../src/util/errors.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'recgw-gpio-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Write a fake sysfs GPIO class folder: export/unexport and one gpiochipN folder per chip. */
function tree(chips: { base: number; ngpio: number; label: string }[]): string {
  const gpio = join(root, 'class', 'gpio');
  mkdirSync(gpio, { recursive: true });
  writeFileSync(join(gpio, 'export'), '');
  writeFileSync(join(gpio, 'unexport'), '');
  for (const c of chips) {
    const dir = join(gpio, `gpiochip${c.base}`);
    mkdirSync(dir);
    // sysfs attributes end with a newline.
    writeFileSync(join(dir, 'base'), `${c.base}\n`);
    writeFileSync(join(dir, 'ngpio'), `${c.ngpio}\n`);
    writeFileSync(join(dir, 'label'), `${c.label}\n`);
  }
  return gpio;
}

describe('header chip detection', () => {
  it('Pi 4 on kernel 6.6+: pinctrl-bcm2711 at base 512, the firmware expander is not it', async () => {
    const gpio = tree([
      { base: 512, ngpio: 58, label: 'pinctrl-bcm2711' },
      { base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' },
    ]);
    const chip = await detectHeaderChip(gpio);
    expect(chip).toMatchObject({ base: 512, ngpio: 58, label: 'pinctrl-bcm2711' });
    expect(chip.dir).toBe(join(gpio, 'gpiochip512'));
  });

  it('Pi 4 on an older kernel: the same chip at base 0', async () => {
    const gpio = tree([
      { base: 0, ngpio: 58, label: 'pinctrl-bcm2711' },
      { base: 504, ngpio: 8, label: 'raspberrypi-exp-gpio' },
    ]);
    expect(await detectHeaderChip(gpio)).toMatchObject({ base: 0, label: 'pinctrl-bcm2711' });
  });

  it('Pi 3 / Zero: pinctrl-bcm2835, at 512 or at 0', async () => {
    expect(await detectHeaderChip(tree([{ base: 512, ngpio: 54, label: 'pinctrl-bcm2835' }]))).toMatchObject({ base: 512 });
    rmSync(join(root, 'class'), { recursive: true });
    expect(await detectHeaderChip(tree([{ base: 0, ngpio: 54, label: 'pinctrl-bcm2835' }]))).toMatchObject({ base: 0 });
  });

  it('Pi 5: pinctrl-rp1 at 571, not the BCM2712 bank that sits at 512', async () => {
    // Taking "the chip at 512" here would switch a line of the SoC's own GPIO, not the header pin.
    const gpio = tree([
      { base: 512, ngpio: 32, label: 'gpio-brcmstb@107d508500' },
      { base: 544, ngpio: 4, label: 'gpio-brcmstb@107d508520' },
      { base: 548, ngpio: 17, label: 'gpio-brcmstb@107d517c00' },
      { base: 565, ngpio: 6, label: 'gpio-brcmstb@107d517c20' },
      { base: 571, ngpio: 54, label: 'pinctrl-rp1' },
    ]);
    expect(await detectHeaderChip(gpio)).toMatchObject({ base: 571, ngpio: 54, label: 'pinctrl-rp1' });
    expect((await listGpioChips(gpio)).map((c) => c.base)).toEqual([512, 544, 548, 565, 571]);
  });

  it('no /sys/class/gpio: a hardware error that says why and what to do', async () => {
    const err = await detectHeaderChip(join(root, 'class', 'gpio')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecgwError);
    expect((err as RecgwError).code).toBe('hardware');
    expect((err as Error).message).toMatch(/does not exist.*CONFIG_GPIO_SYSFS/);
  });

  it('an unknown board lists the chips it found instead of guessing', async () => {
    const gpio = tree([
      { base: 512, ngpio: 8, label: 'raspberrypi-exp-gpio' },
      { base: 520, ngpio: 32, label: 'gpio-foo' },
    ]);
    await expect(detectHeaderChip(gpio)).rejects.toThrow(/no Raspberry Pi header GPIO chip.*raspberrypi-exp-gpio \(base 512, 8 lines\), gpio-foo \(base 520, 32 lines\)/);
  });

  it('two chips with the header label: refused, not guessed', async () => {
    const gpio = tree([
      { base: 512, ngpio: 54, label: 'pinctrl-rp1' },
      { base: 600, ngpio: 54, label: 'pinctrl-rp1' },
    ]);
    await expect(detectHeaderChip(gpio)).rejects.toThrow(/2 GPIO chips are labelled pinctrl-rp1/);
  });
});
