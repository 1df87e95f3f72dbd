/**
 * Which sysfs GPIO chip carries the Raspberry Pi's 40-pin header, and at what base it is numbered.
 *
 * sysfs numbers every GPIO line globally: line `n` of a chip is `base + n`. Until kernel 6.6 the header chip of a
 * Pi 1-4 had base 0, so "BCM 17" was sysfs gpio17; since 6.6 the kernel allocates bases dynamically from 512 up and
 * BCM 17 is gpio529 on a Pi 4 (onoff issues #199 and #200: writing 17 to `export` fails with EINVAL). So the base is
 * read, never assumed.
 *
 * The chip is chosen by its label, never by its number or by "the chip at base 512":
 * - Pi 5: the header is on the RP1 south bridge, label `pinctrl-rp1` (base 571 on 6.6 kernels). The BCM2712's own
 *   GPIO banks are there too (`gpio-brcmstb@...`, one of them at base 512) but are not on the header.
 * - Pi 4 / Pi 400 / CM4: `pinctrl-bcm2711` (base 512 on 6.6+, 0 before), 58 lines.
 * - Pi 1-3, Zero, Zero 2: `pinctrl-bcm2835` (some older Pi 4 kernels used this label too), 54 lines.
 * - `raspberrypi-exp-gpio` (the firmware's 8-line expander: activity LED, camera power) is never the header, nor is
 *   any other chip: an unknown board fails with the list of chips rather than guessing, because a wrong guess would
 *   switch someone else's line.
 * On every one of these, header pin BCM n is line n of the chosen chip.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecgwError, describe, isENOENT, isErrno } from '../../util/errors.js';

export const DEFAULT_GPIO_ROOT = '/sys/class/gpio';

/** Header chip labels, most specific first. */
export const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface GpioChipInfo {
  /** The chip's folder, e.g. /sys/class/gpio/gpiochip512. */
  dir: string;
  base: number;
  ngpio: number;
  label: string;
}

const NO_SYSFS_FIX =
  'This kernel has no sysfs GPIO interface (CONFIG_GPIO_SYSFS), or /sys is not mounted in this container or sandbox. ' +
  'Run recgw on Raspberry Pi OS with its stock kernel (not in a container without /sys/class/gpio), or remove the "gpio" section from the config if this installation has no lamp, buzzer or trigger inputs.';

/** Every gpiochip* under the root with its base, ngpio and label. */
export async function listGpioChips(gpioRoot = DEFAULT_GPIO_ROOT): Promise<GpioChipInfo[]> {
  let names: string[];
  try {
    names = await readdir(gpioRoot);
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('hardware', `gpio: ${gpioRoot} does not exist. ${NO_SYSFS_FIX}`, { cause: err });
    if (isErrno(err, 'EACCES')) {
      throw new RecgwError('hardware', `gpio: cannot read ${gpioRoot} (permission denied): add the service user to group gpio (sudo usermod -aG gpio <user>) and restart the service`, { cause: err });
    }
    throw new RecgwError('hardware', `gpio: cannot read ${gpioRoot}: ${describe(err)}`, { cause: err });
  }
  const chips: GpioChipInfo[] = [];
  for (const name of names.filter((n) => /^gpiochip\d+$/.test(n))) {
    const dir = join(gpioRoot, name);
    const read = async (file: string): Promise<string> => (await readFile(join(dir, file), 'utf8')).trim();
    try {
      const [base, ngpio, label] = await Promise.all([read('base'), read('ngpio'), read('label')]);
      const b = Number(base);
      const n = Number(ngpio);
      if (!Number.isInteger(b) || !Number.isInteger(n)) continue;
      chips.push({ dir, base: b, ngpio: n, label });
    } catch {
      // A chip whose attributes cannot be read is not one we could use; the error below lists what was found.
      continue;
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** The header chip among `chips` (see the file comment for the rule). Throws with the chips found when none fits. */
export function pickHeaderChip(chips: GpioChipInfo[], gpioRoot = DEFAULT_GPIO_ROOT): GpioChipInfo {
  for (const label of HEADER_CHIP_LABELS) {
    const found = chips.filter((c) => c.label === label);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw new RecgwError('hardware', `gpio: ${found.length} GPIO chips are labelled ${label} (${found.map((c) => `base ${c.base}`).join(', ')}): cannot tell which carries the 40-pin header`);
    }
  }
  const seen = chips.length === 0 ? 'no gpiochip at all' : chips.map((c) => `${c.label} (base ${c.base}, ${c.ngpio} lines)`).join(', ');
  throw new RecgwError(
    'hardware',
    `gpio: no Raspberry Pi header GPIO chip (${HEADER_CHIP_LABELS.join(', ')}) under ${gpioRoot}; found ${seen}. ` +
      'recgw names GPIO pins by their Raspberry Pi BCM number and needs the chip that carries the 40-pin header.',
  );
}

/** Find the header chip under a sysfs GPIO root (tests point the root at a folder tree of their own). */
export async function detectHeaderChip(gpioRoot = DEFAULT_GPIO_ROOT): Promise<GpioChipInfo> {
  return pickHeaderChip(await listGpioChips(gpioRoot), gpioRoot);
}
