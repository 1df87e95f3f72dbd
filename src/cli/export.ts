/** `recgw export --config FILE --out DIR`: the device's ledger and sealed segments as a verifiable device folder. */
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { startEvidenceCore } from '../app/evidence-core.js';
import { exportDevice } from '../evidence/export.js';
import { createLogger } from '../util/log.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw export --config FILE --out DIR';

export async function exportCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, out: { type: 'string' } }, USAGE);
  const config = loadConfig(required(values.config, '--config', USAGE));
  const core = await startEvidenceCore(config, createLogger('recgw'));
  try {
    const out = join(required(values.out, '--out', USAGE), config.deviceId);
    const r = await exportDevice({ db: core.db, ledger: core.ledger, signer: core.identity.signer, deviceId: config.deviceId, outDir: out });
    io.out(`Exported ${r.entries} ledger entries and ${r.segments} sealed segments to ${r.dir}\n`);
    return 0;
  } finally {
    await core.stop();
  }
}
