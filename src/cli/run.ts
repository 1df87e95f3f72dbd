/** `recgw run --config FILE`: the gateway in the foreground until SIGTERM or SIGINT. */
import { loadConfig } from '../config/load.js';
import { Gateway } from '../app/gateway.js';
import { createLogger, type Logger } from '../util/log.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw run --config FILE';

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadConfig(required(values.config, '--config', USAGE));
  const log = createLogger('recgw');
  const gw = new Gateway(config, log);
  await gw.start();
  io.err(`recgw: gateway ${config.deviceId} running; control socket ${config.control.socket}\n`);
  await untilSignal(log);
  await gw.stop();
  log.info('stopped cleanly');
  return 0;
}

/** Resolve on the first SIGTERM or SIGINT (a service's foreground life). */
export function untilSignal(log: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      log.info('stopping on signal', { signal: sig });
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
