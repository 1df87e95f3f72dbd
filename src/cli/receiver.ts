/** `recgw receiver --config FILE`: the agency-side receiver in the foreground until SIGTERM or SIGINT. */
import { loadReceiverConfig } from '../receiver/config.js';
import { Receiver } from '../receiver/receiver.js';
import { createLogger } from '../util/log.js';
import { parse, required } from './args.js';
import { untilSignal } from './run.js';
import type { Io } from './io.js';

const USAGE = 'recgw receiver --config FILE';

export async function receiverCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadReceiverConfig(required(values.config, '--config', USAGE));
  const log = createLogger('recgw-receiver');
  const r = new Receiver(config, log);
  await r.start();
  io.err(`recgw: receiver ${config.name} storing into ${config.store}, broker ${config.broker}\n`);
  await untilSignal(log);
  await r.stop();
  log.info('stopped cleanly', { ...r.stats });
  return 0;
}
