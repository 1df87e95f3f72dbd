/** `recgw run --config FILE`: the gateway in the foreground until SIGTERM or SIGINT. */
import { loadConfig } from '../config/load.js';
import { tuneHeapForBursts } from '../app/service-env.js';
import { lockStateFolder } from '../app/state-lock.js';
import { systemdNotifier } from '../app/systemd.js';
import { startHealthLog } from '../app/health.js';
import { createLogger, type Logger } from '../util/log.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw run --config FILE';

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadConfig(required(values.config, '--config', USAGE));
  // First, and before the gateway's modules load: a second gateway on this state folder is refused at once.
  const lock = lockStateFolder(config.stateDir);
  const { Gateway } = await import('../app/gateway.js');
  tuneHeapForBursts();
  const log = createLogger('recgw');
  const systemd = systemdNotifier({ log: log.child('systemd') });
  // Listen from the start: a SIGTERM while starting (systemd stopping a slow start) waits for the start, then stops cleanly.
  const signalled = untilSignal(log);
  const gw = new Gateway(config, log, { lock });
  try {
    await gw.start();
  } catch (err) {
    if (err instanceof RecgwError && err.code === 'state') {
      throw new RecgwError('state', `${err.message} See "State database refused at start" in docs/operations.md.`, { cause: err });
    }
    throw err;
  }
  const health = startHealthLog({
    status: () => gw.recorderInterface.status(),
    queue: () => gw.uplinkQueue?.summary(),
    gpsd: () => gw.gpsdStatus(),
    stateDir: config.stateDir,
    log: log.child('health'),
    intervalMs: healthIntervalMs(),
  });
  await systemd.ready(`recording gateway ${config.deviceId}`);
  systemd.startWatchdog();
  io.err(`recgw: gateway ${config.deviceId} running; control socket ${config.control.socket}\n`);
  await signalled;
  await systemd.stopping('sealing open segments and stopping');
  await health.stop();
  await gw.stop();
  await systemd.close();
  log.info('stopped cleanly');
  return 0;
}

/** The health line's period: 60 s, or RECGW_HEALTH_SECONDS (tests, or a closer look in the field). */
function healthIntervalMs(): number {
  const s = Number(process.env.RECGW_HEALTH_SECONDS);
  return Number.isFinite(s) && s >= 1 ? s * 1000 : 60_000;
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
