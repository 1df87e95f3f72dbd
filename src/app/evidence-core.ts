/**
 * The evidence core built from a validated config: state database, device identity, ledger and sealer.
 * The gateway's composition root builds on it; CLI commands that only read or export use it alone.
 */
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { openStateDb, type Db } from '../state/db.js';
import { identityPaths, loadDeviceIdentity, type DeviceIdentity } from '../pki/identity.js';
import type { EncryptionCert } from '../pki/encryption-cert.js';
import { loadAgencyEncryptionCert } from '../config/agency-files.js';
import { Ledger } from '../evidence/ledger.js';
import { Sealer } from '../evidence/sealer.js';
import { recordEncryptionCert } from '../evidence/encryption-installed.js';
import { schemeForKey } from '../evidence/segment-scheme.js';
import { RecgwError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../version.js';

export interface EvidenceCore {
  db: Db;
  identity: DeviceIdentity;
  ledger: Ledger;
  sealer: Sealer;
  /** The agency encryption certificate every segment's data key is wrapped for. */
  encryption: EncryptionCert;
  dirs: { state: string; spool: string; sealed: string };
  /** Undo what start() did: wait for sealing, close the database. */
  stop(): Promise<void>;
}

export const stateDbPath = (stateDir: string): string => join(stateDir, 'state.db');

export async function startEvidenceCore(config: Config, log: Logger, now: () => Date = () => new Date()): Promise<EvidenceCore> {
  // Identity first: the gateway must not write a single entry without a valid certificate.
  const identity = loadDeviceIdentity(config.deviceId, identityPaths(config.stateDir), config.agency.caCert, now());
  // Then the key the recordings are sealed for: only the agency's, by its certificate (a key file could be anyone's).
  const encryption = loadAgencyEncryptionCert(config.file, config.agency, now());
  checkSealingSuite(identity.signer.suite ?? 'intl', schemeForKey(encryption.publicKey).suite.name, config.agency.encryptionCert);
  const dirs = { state: config.stateDir, spool: join(config.stateDir, 'spool'), sealed: join(config.stateDir, 'sealed') };
  const db = openStateDb(stateDbPath(config.stateDir));
  try {
    const ledger = new Ledger({ db, deviceId: config.deviceId, signer: identity.signer, now, software: { name: 'recgw', version: VERSION } });
    ledger.start();
    // Before the sealer starts (it finishes what a crash left queued): every manifest follows its certificate's entry.
    const installed = recordEncryptionCert(ledger, db, encryption);
    if (installed) log.info('recorded the agency encryption certificate in the ledger', { seq: installed.seq, keyId: encryption.keyId });
    const sealer = new Sealer({ db, ledger, agencyPublicKey: encryption.publicKey, sealedDir: dirs.sealed, log: log.child('sealer') });
    await sealer.start();
    return {
      db,
      identity,
      ledger,
      sealer,
      encryption,
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

/**
 * A segment's manifest is sealed in the suite of the ledger entry that carries it (evidence-format.md §17.7): a gm
 * device (SM2 key) seals for an SM2 agency key, an intl one for an RSA key. A mix would put SM2-wrapped segments
 * in intl entries or RSA in gm ones, which the verifier refuses as malformed.
 */
function checkSealingSuite(device: 'intl' | 'gm', encryption: 'intl' | 'gm', encPath: string): void {
  if (device === encryption) return;
  const kind = (s: 'intl' | 'gm'): string => (s === 'gm' ? 'an SM2 key (gm suite)' : 'an RSA key (intl suite)');
  throw new RecgwError(
    'config',
    `the device key is ${kind(device)} but the agency encryption certificate ${encPath} carries ${kind(encryption)}: ` +
      `give the encryption certificate (agency-enc.pem) of the CA that enrolled this device, whose suite is the device's`,
  );
}
