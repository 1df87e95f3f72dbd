/** `recgw reconcile <store> --session ID --start T --end T`: a session's recordings against its paper record. */
import { DEFAULT_TOLERANCE_SECONDS, reconcile } from '../report/reconcile.js';
import { formatReconcile } from '../report/reconcile-text.js';
import { RecgwError } from '../util/errors.js';
import { parseWrittenTime, type WrittenTime } from '../util/written-time.js';
import { parse, readCaBundle, required, storeFolder, zoneOption } from './args.js';
import type { Io } from './io.js';

const USAGE =
  'recgw reconcile <store> --session <id> --start "2026-12-07 10:05" --end "2026-12-07 11:20" [--zone Asia/Shanghai] [--tolerance 60] [--ca ca.pem] [--json]';

export async function reconcileCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      session: { type: 'string' },
      start: { type: 'string' },
      end: { type: 'string' },
      zone: { type: 'string' },
      tolerance: { type: 'string' },
      ca: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
    true,
  );
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one store folder\nusage: ${USAGE}`);
  const store = storeFolder(positionals[0]!, USAGE);
  const zone = zoneOption(values.zone);
  const written = (flag: '--start' | '--end', v: string | undefined): WrittenTime => {
    try {
      return parseWrittenTime(required(v, flag, USAGE), zone);
    } catch (err) {
      if (err instanceof RecgwError) throw err;
      throw new RecgwError('usage', `${flag}: ${(err as Error).message}`);
    }
  };
  const tolerance = values.tolerance === undefined ? DEFAULT_TOLERANCE_SECONDS : Number(values.tolerance);
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new RecgwError('usage', `--tolerance must be a number of seconds, 0 or more, not ${JSON.stringify(values.tolerance)}`);
  const report = await reconcile(store, {
    sessionId: required(values.session, '--session', USAGE),
    start: written('--start', values.start),
    end: written('--end', values.end),
    toleranceSeconds: tolerance,
    ...(values.ca === undefined ? {} : { caPems: readCaBundle(values.ca) }),
  });
  io.out(values.json ? JSON.stringify(report) + '\n' : formatReconcile(report, zone) + '\n');
  return report.agrees ? 0 : 1;
}
