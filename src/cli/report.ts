/** `recgw report <store> [--json] [--ca ca.pem] [--units units.json] [--zone Z]`: the evidence officer's summary of a receiver's store. */
import { buildReport } from '../report/report.js';
import { readUnitsFile } from '../report/units.js';
import { formatStoreReport } from '../report/human.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, storeFolder, zoneOption } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw report <store> [--json] [--ca <ca.pem>] [--units <units.json>] [--zone Asia/Shanghai]';

export async function reportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ca: { type: 'string' }, json: { type: 'boolean' }, zone: { type: 'string' }, units: { type: 'string' } }, USAGE, true);
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one store folder\nusage: ${USAGE}`);
  const store = storeFolder(positionals[0]!, USAGE);
  const zone = zoneOption(values.zone);
  const caPems = values.ca === undefined ? undefined : readCaBundle(values.ca);
  const units = values.units === undefined ? undefined : readUnitsFile(values.units);
  const report = await buildReport(store, { ...(caPems ? { caPems } : {}), ...(units ? { units } : {}) });
  io.out(values.json ? JSON.stringify(report) + '\n' : formatStoreReport(report, zone) + '\n');
  return 0;
}
