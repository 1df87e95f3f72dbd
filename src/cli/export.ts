/**
 * `recgw export --config FILE --out DIR`: the device's ledger and sealed segments as a verifiable device folder.
 * Reads the state database without writing to it, so it is safe while the gateway runs.
 */
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { stateDbPath } from '../app/evidence-core.js';
import { openStateDb } from '../state/db.js';
import { identityPaths, loadDeviceIdentity } from '../pki/identity.js';
import { Ledger } from '../evidence/ledger.js';
import { exportDevice } from '../evidence/export.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw export --config FILE --out DIR';

export async function exportCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' }, out: { type: 'string' } }, USAGE);
  const config = loadConfig(required(values.config, '--config', USAGE));
  const identity = loadDeviceIdentity(config.deviceId, identityPaths(config.stateDir), config.agency.caCert);
  const db = openStateDb(stateDbPath(config.stateDir), { readonly: true, check: false });
  try {
    const ledger = new Ledger({ db, deviceId: config.deviceId, signer: identity.signer });
    const out = join(required(values.out, '--out', USAGE), config.deviceId);
    const r = await exportDevice({ db, ledger, signer: identity.signer, deviceId: config.deviceId, outDir: out });
    io.out(`Exported ${r.entries} ledger entries and ${r.segments} sealed segments to ${r.dir}\n`);
    return 0;
  } finally {
    db.close();
  }
}
