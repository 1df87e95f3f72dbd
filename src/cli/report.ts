/** `recgw report <store> [--json] [--ca ca.pem] [--zone Z]`: the evidence officer's summary of a receiver's store. */
import { buildReport } from '../report/report.js';
import { formatStoreReport } from '../report/human.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, storeFolder, zoneOption } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw report <store> [--json] [--ca <ca.pem>] [--zone Asia/Shanghai]';

export async function reportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ca: { type: 'string' }, json: { type: 'boolean' }, zone: { type: 'string' } }, USAGE, true);
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one store folder\nusage: ${USAGE}`);
  const store = storeFolder(positionals[0]!, USAGE);
  const zone = zoneOption(values.zone);
  const caPems = values.ca === undefined ? undefined : readCaBundle(values.ca);
  const report = await buildReport(store, caPems ? { caPems } : {});
  io.out(values.json ? JSON.stringify(report) + '\n' : formatStoreReport(report, zone) + '\n');
  return 0;
}
