/** `recgw receiver --config FILE`: the agency-side receiver in the foreground until SIGTERM or SIGINT. */
import { loadReceiverConfig } from '../receiver/config.js';
import { takeReceiverNameLock } from '../receiver/name-lock.js';
import { systemdNotifier } from '../app/systemd.js';
import { tuneHeapForBursts } from '../app/service-env.js';
import { createLogger } from '../util/log.js';
import { parse, required } from './args.js';
import { untilSignal } from './run.js';
import type { Io } from './io.js';

const USAGE = 'recgw receiver --config FILE';

export async function receiverCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadReceiverConfig(required(values.config, '--config', USAGE));
  const log = createLogger('recgw-receiver');
  // The receiver to tell when the lock's database session ends (PostgreSQL); none before it exists.
  const lost: { tell?: (why: string) => void } = {};
  // First, and before the receiver's modules load: a second receiver of this name on this store is refused at once.
  const lock = await takeReceiverNameLock(config, (why) => lost.tell?.(why));
  const { Receiver } = await import('../receiver/receiver.js');
  tuneHeapForBursts();
  const systemd = systemdNotifier({ log: log.child('systemd') });
  const signalled = untilSignal(log);
  const r = new Receiver(config, log, undefined, undefined, lock);
  lost.tell = (why) => r.lostLock(why);
  await r.start();
  await systemd.ready(`receiver ${config.name} storing into ${config.store}`);
  systemd.startWatchdog();
  io.err(`recgw: receiver ${config.name} storing into ${config.store}, broker ${config.broker}\n`);
  await signalled;
  await systemd.stopping('finishing files and receipts');
  await r.stop();
  await systemd.close();
  log.info('stopped cleanly', { ...r.stats });
  return 0;
}
