/**
 * The agency log's checkpoint key as the receiver loads it: an Ed25519 private key and its certificate from the
 * agency CA (role recgw-log), whose CN is the log's origin, and under a gm CA an SM2 key and certificate beside
 * them. Refused at start, with the reason, when they do not fit.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { loadPrivateKey } from '../pki/keys.js';
import { checkLogCertificate, type LogCertificate } from '../pki/log-cert.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { SIG_COSIGNATURE_V1, parseVkey } from '../tlog/note.js';
import type { WitnessTarget } from './witness-client.js';
import { RecgwError } from '../util/errors.js';
import { AgencyLog } from './agency-log.js';
import type { ReceiverConfig } from './config.js';
import type { ReceiverSql } from './receiver-sql.js';

export interface OpenedLog {
  log: AgencyLog;
  /** The log's certificate (published as log/log-cert.pem). */
  certPem: string;
  /** Under a gm CA, the log's SM2 certificate (published as log/log-sm2-cert.pem). */
  sm2CertPem?: string;
}

export function openAgencyLog(cfg: ReceiverConfig, caPems: string[], sql: ReceiverSql, now: Date): OpenedLog {
  const hint = 'set agency.logKey and agency.logCert to the log-key.pem and log.pem of the agency CA folder (`recgw ca init` writes them)';
  const key = loadPrivateKey(cfg.agency.logKey, 'log checkpoint key', hint);
  const certPem = readCert(cfg.agency.logCert, 'log certificate', hint);
  const c = usable(cfg.agency.logCert, checkLogCertificate(certPem, caPems, { at: now, keyType: 'ed25519' }));
  if (!c.key.equals(createPublicKey(key))) throw new RecgwError('config', `log certificate ${cfg.agency.logCert} does not belong to the Ed25519 key ${cfg.agency.logKey}`);
  if (!c.gm) return { log: new AgencyLog(sql, key, c.origin), certPem };
  const sm2 = openSm2LogKey(cfg, caPems, c.origin, now);
  return { log: new AgencyLog(sql, key, c.origin, sm2.key), certPem, sm2CertPem: sm2.certPem };
}

/**
 * The SM2 key of a gm CA's log (evidence-format.md §17.9): required, so that no checkpoint of a gm log goes out
 * without its SM2 line; its certificate must be the CA's for role recgw-log and the same origin.
 */
function openSm2LogKey(cfg: ReceiverConfig, caPems: string[], origin: string, now: Date): { key: KeyObject; certPem: string } {
  const hint = 'set agency.logSm2Key and agency.logSm2Cert to the log-sm2-key.pem and log-sm2.pem of the gm CA folder (`recgw ca init --suite gm` writes them; a gm CA folder from before them gets them from `recgw ca receiver-cert --ca DIR`)';
  const { logSm2Key, logSm2Cert } = cfg.agency;
  if (!logSm2Key || !logSm2Cert) throw new RecgwError('config', `the agency log's certificate is from a gm CA, so its checkpoints carry an SM2 signature: ${hint}`);
  const key = loadPrivateKey(logSm2Key, 'log SM2 checkpoint key', hint);
  const certPem = readCert(logSm2Cert, 'log SM2 certificate', hint);
  const c = usable(logSm2Cert, checkLogCertificate(certPem, caPems, { at: now, keyType: 'sm2' }));
  if (!isSm2Key(key) || !c.key.equals(createPublicKey(key))) throw new RecgwError('config', `log SM2 certificate ${logSm2Cert} does not belong to the SM2 key ${logSm2Key}`);
  if (c.origin !== origin) throw new RecgwError('config', `log SM2 certificate ${logSm2Cert} names origin ${c.origin}, but the log's certificate ${cfg.agency.logCert} names ${origin}: give the pair from the same CA folder`);
  return { key, certPem };
}

function readCert(path: string, what: string, hint: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new RecgwError('config', `${what} ${path} cannot be read (${(err as Error).message}): ${hint}`, { cause: err });
  }
}

function usable(path: string, c: LogCertificate | { why: string }): LogCertificate {
  if ('why' in c) throw new RecgwError('config', `log certificate ${path} is not usable: ${c.why}`);
  return c;
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
