/**
 * The agency log's checkpoint key as the receiver loads it: an Ed25519 private key and its certificate from the
 * agency CA (role recgw-log), whose CN is the log's origin. Refused at start, with the reason, when they do not fit.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { checkCertificate, parseCertificate, subjectField } from '../pki/certs.js';
import { loadPrivateKey } from '../pki/keys.js';
import { ROLE_LOG } from '../pki/ca.js';
import { SIG_COSIGNATURE_V1, isKeyName, parseVkey } from '../tlog/note.js';
import type { WitnessTarget } from './witness-client.js';
import { RecgwError } from '../util/errors.js';
import { AgencyLog } from './agency-log.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverSql } from './receiver-sql.js';

export function openAgencyLog(cfg: ReceiverConfig, caPems: string[], sql: ReceiverSql, now: Date): { log: AgencyLog; certPem: string } {
  const hint = 'set agency.logKey and agency.logCert to the log-key.pem and log.pem of the agency CA folder (`recgw ca init` writes them)';
  const key = loadPrivateKey(cfg.agency.logKey, 'log checkpoint key', hint);
  let certPem: string;
  try {
    certPem = readFileSync(cfg.agency.logCert, 'utf8');
  } catch (err) {
    throw new RecgwError('config', `log certificate ${cfg.agency.logCert} cannot be read (${(err as Error).message}): ${hint}`, { cause: err });
  }
  const x = parseCertificate(certPem);
  const problems = checkCertificate(certPem, caPems, { at: now, role: ROLE_LOG });
  if (!x || problems.length > 0) {
    throw new RecgwError('config', `log certificate ${cfg.agency.logCert} is not usable: ${problems.map((p) => p.detail).join('; ') || 'unparseable'}`);
  }
  if (key.asymmetricKeyType !== 'ed25519' || !x.publicKey.equals(createPublicKey(key))) {
    throw new RecgwError('config', `log certificate ${cfg.agency.logCert} does not belong to the Ed25519 key ${cfg.agency.logKey}`);
  }
  const origin = subjectField(x, 'CN') ?? '';
  if (!isKeyName(origin)) throw new RecgwError('config', `log certificate ${cfg.agency.logCert} names origin ${JSON.stringify(origin)}, which is not a log name (no spaces or +)`);
  return { log: new AgencyLog(sql, key, origin), certPem };
}

/** The witnesses of the config, their verifier keys parsed: a key that is not a witness key stops the receiver. */
export function witnessTargets(cfg: ReceiverConfig): WitnessTarget[] {
  return cfg.witnesses.map((w) => {
    const v = parseVkey(w.vkey);
    if ('why' in v) throw new RecgwError('config', `witness ${w.url}: ${w.vkey} is not a verifier key (${v.why})`);
    if (v.type !== SIG_COSIGNATURE_V1) throw new RecgwError('config', `witness ${w.url}: ${v.name} is not a witness key (cosignature type 0x04); give the witness.vkey that \`recgw witness init\` printed`);
    return { url: w.url, vkey: v };
  });
}
