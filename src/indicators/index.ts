/**
 * The lamp, buzzer and trigger inputs of an installation (config "gpio"), on a GPIO backend opened by the caller.
 * No onoff here: pins come from src/hal/gpio.
 */
import type { GpioConfig } from '../config/types.js';
import type { GpioBackend, GpioIn, GpioOut } from '../hal/gpio/types.js';
import type { Logger } from '../util/log.js';
import { Tally, type StatusSource, type TallyOptions } from './tally.js';
import { Triggers, type InputConfig, type MarkEvent, type RecorderApi } from './triggers.js';
import type { Timers } from './timers.js';

export { Tally, lampModeFor, faultsOf, FAULT_BEEP, ERROR_BEEP, type LampMode, type StatusSource, type BeepPattern } from './tally.js';
export { Triggers, workFor, parseOfficer, type RecorderApi, type EventMark, type MarkEvent, type Alarm, type InputConfig } from './triggers.js';
export { realTimers, type Timers } from './timers.js';

export interface IndicatorsOptions {
  config: GpioConfig;
  backend: GpioBackend;
  /** The recorder (already started). */
  recorder: RecorderApi & StatusSource;
  /** Writes an `event.marked` entry; required when an input's action is mark-event. */
  markEvent?: MarkEvent;
  log: Logger;
  timers?: Timers;
  /** Lamp and buzzer timing overrides. */
  tally?: Omit<TallyOptions, 'lamp' | 'buzzer' | 'log' | 'timers'>;
}

export interface Indicators {
  tally: Tally;
  triggers: Triggers;
  /** Stop the inputs (waiting for a running action), lamp and buzzer off, pins released. */
  stop(): Promise<void>;
}

/**
 * Open the configured pins and start the lamp, buzzer and triggers. Throws (RecgwError 'hardware' or 'config') when a
 * pin cannot be opened or the config does not fit, with every pin it opened released again.
 */
export async function startIndicators(o: IndicatorsOptions): Promise<Indicators> {
  const pins: (GpioOut | GpioIn)[] = [];
  const log = o.log;
  let tally: Tally | undefined;
  try {
    const lamp = o.config.lamp === undefined ? undefined : o.backend.output(o.config.lamp, 'lamp');
    if (lamp) pins.push(lamp);
    const buzzer = o.config.buzzer === undefined ? undefined : o.backend.output(o.config.buzzer, 'buzzer');
    if (buzzer) pins.push(buzzer);
    const inputs: { config: InputConfig; pin: GpioIn }[] = [];
    for (const config of o.config.inputs) {
      const pin = o.backend.input(config.pin, config.name);
      pins.push(pin);
      inputs.push({ config, pin });
    }
    tally = new Tally({ ...o.tally, log: log.child('tally'), ...(lamp ? { lamp } : {}), ...(buzzer ? { buzzer } : {}), ...(o.timers ? { timers: o.timers } : {}) });
    const triggers = new Triggers({
      inputs,
      ...(o.config.session ? { session: o.config.session } : {}),
      recorder: o.recorder,
      ...(o.markEvent ? { markEvent: o.markEvent } : {}),
      alarm: tally,
      log: log.child('triggers'),
      ...(o.timers ? { timers: o.timers } : {}),
    });
    await tally.start(o.recorder);
    triggers.start();
    const started = tally;
    return {
      tally: started,
      triggers,
      stop: async () => {
        await triggers.stop();
        started.stop();
        for (const p of pins) p.close();
      },
    };
  } catch (err) {
    tally?.stop();
    for (const p of pins) p.close();
    throw err;
  }
}
