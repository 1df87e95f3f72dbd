/**
 * The evidence core built from a validated config: state database, device identity, ledger and sealer.
 * The gateway's composition root builds on it; CLI commands that only read or export use it alone.
 */
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Config } from '../config/types.js';
import { openStateDb, type Db } from '../state/db.js';
import { identityPaths, loadDeviceIdentity, type DeviceIdentity } from '../pki/identity.js';
import { loadPublicKey } from '../pki/keys.js';
import { Ledger } from '../evidence/ledger.js';
import { Sealer } from '../evidence/sealer.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../version.js';

export interface EvidenceCore {
  db: Db;
  identity: DeviceIdentity;
  ledger: Ledger;
  sealer: Sealer;
  agencyPublicKey: KeyObject;
  dirs: { state: string; spool: string; sealed: string };
  /** Undo what start() did: wait for sealing, close the database. */
  stop(): Promise<void>;
}

export const stateDbPath = (stateDir: string): string => join(stateDir, 'state.db');

export async function startEvidenceCore(config: Config, log: Logger, now: () => Date = () => new Date()): Promise<EvidenceCore> {
  // Identity first: the gateway must not write a single entry without a valid certificate.
  const identity = loadDeviceIdentity(config.deviceId, identityPaths(config.stateDir), config.agency.caCert, now());
  const agencyPublicKey = loadPublicKey(config.agency.encryptionKey, 'agency encryption key', 'set agency.encryptionKey in the config to the agency-pub.pem the agency gave you');
  const dirs = { state: config.stateDir, spool: join(config.stateDir, 'spool'), sealed: join(config.stateDir, 'sealed') };
  const db = openStateDb(stateDbPath(config.stateDir));
  try {
    const ledger = new Ledger({ db, deviceId: config.deviceId, signer: identity.signer, now, software: { name: 'recgw', version: VERSION } });
    ledger.start();
    const sealer = new Sealer({ db, ledger, agencyPublicKey, sealedDir: dirs.sealed, log: log.child('sealer') });
    await sealer.start();
    return {
      db,
      identity,
      ledger,
      sealer,
      agencyPublicKey,
      dirs,
      async stop() {
        try {
          await sealer.stop();
        } finally {
          db.close();
        }
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
