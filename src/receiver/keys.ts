/**
 * The receiver's keys and certificates from its config, checked as the receiver needs them: every file there and
 * readable (named by its config key), the receipt key the agency's, its own certificate its name's, the encryption
 * certificates the agency's. The receiver's start and `recgw config check` use this one function, so a config that
 * passes the check does not fail the start on these files.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { configInvalid } from '../config/load.js';
import { KeySigner } from '../evidence/signer.js';
import { ROLE_RECEIPT, ROLE_RECEIVER } from '../pki/ca.js';
import { checkCertificate, parseCertificate, splitPemBundle } from '../pki/certs.js';
import { loadPrivateKey } from '../pki/keys.js';
import { caSuiteOf } from '../pki/gm-ca.js';
import { RecgwError } from '../util/errors.js';
import { receiverFileProblems, type ReceiverConfig } from './config.js';
import { CurrentEncryptionKeys } from './encryption-keys.js';

export interface ReceiverKeys {
  caPem: string;
  caPems: string[];
  /** Signs receipts with the agency's receipt key. */
  signer: KeySigner;
  encryption: CurrentEncryptionKeys;
}

/** Load and check; a config error (exit 2) naming the file, its key and the fix otherwise. */
export function loadReceiverKeys(cfg: ReceiverConfig, at: Date): ReceiverKeys {
  const missing = receiverFileProblems(cfg);
  if (missing.length > 0) throw configInvalid(cfg.file, missing);
  const caPem = readFileSync(cfg.agency.caCert, 'utf8');
  const caPems = splitPemBundle(caPem);
  const signer = receiptSigner(cfg, caPems, at);
  checkOwnCertificate(cfg, brokerCaPems(cfg, caPem), at);
  const encryption = CurrentEncryptionKeys.load(cfg.agency.encryptionCerts, caPems, at);
  return { caPem, caPems, signer, encryption };
}

/**
 * The CA of the broker's TLS: `tls.ca` when given, else the agency CA. A gm CA's certificates cannot serve in TLS
 * (OpenSSL 3.0 has no SM2 there), so a gm agency names its transport CA (evidence-format.md §17.8).
 */
export function brokerCaPems(cfg: ReceiverConfig, caPem: string): string[] {
  if (cfg.tls.ca) return splitPemBundle(readFileSync(cfg.tls.ca, 'utf8'));
  if (caSuiteOf(caPem) === 'gm') {
    throw new RecgwError('config', `${cfg.file}: the agency CA is gm, whose certificates cannot serve in TLS (evidence-format.md §17.8): set tls.ca to the agency's transport/ca.pem`);
  }
  return splitPemBundle(caPem);
}

/**
 * The broker knows this receiver by its certificate's CN and its receipts name `cfg.name`: they must be one name,
 * in the receiver namespace (config.ts checked the name), or receipts would name someone the broker never saw.
 */
function checkOwnCertificate(cfg: ReceiverConfig, caPems: string[], at: Date): void {
  const problems = checkCertificate(readFileSync(cfg.tls.cert, 'utf8'), caPems, { at, role: ROLE_RECEIVER, commonName: cfg.name, transport: true });
  if (problems.length > 0) {
    throw new RecgwError('config', `receiver certificate ${cfg.tls.cert} is not usable as receiver ${cfg.name}: ${problems.map((p) => p.detail).join('; ')}; issue one with \`recgw ca receiver-cert --name ${cfg.name}\``);
  }
}

/** The receipt key must be the agency's: a receipt nobody can check is worth nothing. */
function receiptSigner(cfg: ReceiverConfig, caPems: string[], at: Date): KeySigner {
  const certPem = readFileSync(cfg.agency.receiptCert, 'utf8');
  const key = loadPrivateKey(cfg.agency.receiptKey, 'receipt signing key', 'set agency.receiptKey to the receipt-key.pem of the agency CA');
  const problems = checkCertificate(certPem, caPems, { at, role: ROLE_RECEIPT });
  const x = parseCertificate(certPem);
  if (problems.length > 0 || !x) {
    throw new RecgwError('config', `receipt certificate ${cfg.agency.receiptCert} is not usable: ${problems.map((p) => p.detail).join('; ') || 'unparseable'}`);
  }
  const signer = new KeySigner(key, certPem);
  if (!x.publicKey.equals(createPublicKey(key))) {
    throw new RecgwError('config', `receipt certificate ${cfg.agency.receiptCert} does not belong to the key ${cfg.agency.receiptKey}`);
  }
  return signer;
}
