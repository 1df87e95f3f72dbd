/** GPIO: the backend named in the config (gpio.backend), opened at start. Only src/hal/gpio imports onoff. */
import type { GpioConfig } from '../../config/types.js';
import type { Logger } from '../../util/log.js';
import { SimGpioBackend } from './sim.js';
import { SysfsGpioBackend, type SysfsGpioOptions } from './sysfs.js';
import type { GpioBackend } from './types.js';

export type { GpioBackend, GpioIn, GpioOut, PinValue } from './types.js';
export { SimGpioBackend, type SimGpioOptions } from './sim.js';
export { SysfsGpioBackend, type SysfsGpioOptions, type OnoffGpioClass } from './sysfs.js';
export { DEFAULT_GPIO_ROOT, HEADER_CHIP_LABELS, detectHeaderChip, listGpioChips, pickHeaderChip, type GpioChipInfo } from './chip.js';

export interface OpenGpioOptions {
  log: Logger;
  /** Overrides for the sysfs backend (tests). */
  sysfs?: Omit<SysfsGpioOptions, 'log'>;
  /** The sim backend to use (a test keeps it to drive inputs and read outputs); default a new one. */
  sim?: SimGpioBackend;
}

/** Open the configured backend. The sysfs one fails here (RecgwError 'hardware') when GPIO is missing or denied. */
export async function openGpio(config: Pick<GpioConfig, 'backend'>, o: OpenGpioOptions): Promise<GpioBackend> {
  if (config.backend === 'sim') return o.sim ?? new SimGpioBackend({ log: o.log });
  return SysfsGpioBackend.open({ ...o.sysfs, log: o.log });
}
