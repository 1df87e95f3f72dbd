/**
 * A gm agency CA (`recgw ca init --suite gm`, issue 19): every certificate it makes is SM2-with-SM3 with the signer
 * ID 1234567812345678 (sm2-cert.ts), and every key it makes for the agency is SM2, but the log's checkpoint key,
 * which signs C2SP notes and stays Ed25519 (its certificate is SM2-signed). The CA's suite is the signature
 * algorithm of its own certificate (ca.pem): nothing else to keep in step, and a verifier given only ca.pem knows it.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import type { SuiteName } from '../crypto/suite.js';
import { readPem, writePrivateKey } from './keys.js';
import { ROLE_DEVICE, ROLE_ENCRYPTION, ROLE_RECEIPT, ROLE_RECEIVER, ROLE_SERVER, type CertRole } from './roles.js';
import { isSm2Certificate, issueSm2Certificate, sm2Name } from './sm2-cert.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import type { CaPaths } from './ca.js';

/** The suite of the CA whose certificate this is: gm when it is signed SM2-with-SM3, else intl. */
export function caSuiteOf(caCertPem: string): SuiteName {
  return isSm2Certificate(caCertPem) ? 'gm' : 'intl';
}

/** The suite a new device key is made for at enrolment: the configured CA's (SM2 for a gm CA); intl without one yet. */
export function enrolmentSuite(caCertPath: string): SuiteName {
  return existsSync(caCertPath) ? caSuiteOf(readFileSync(caCertPath, 'utf8')) : 'intl';
}

/** Write the CA certificate and key and the agency's encryption and receipt pairs (ca.ts's initCa does the rest). */
export function initGmCa(paths: CaPaths, o: { agency: string; days: number; now: Date }): void {
  const caKeyPem = gmSuite.generateKeyPair().privateKeyPem;
  const caKey = createPrivateKey(caKeyPem);
  const caPem = issueSm2Certificate({ issuerKey: caKey, publicKey: caKey, subject: sm2Name([['CN', `${o.agency} CA`], ['O', o.agency]]), ca: true, days: o.days, now: o.now });
  writePrivateKey(paths.caKey, caKeyPem);
  writeFileAtomicSync(paths.caCert, caPem);
  const pair = (keyPath: string, certPath: string, commonName: string, role: CertRole): void => {
    const keyPem = gmSuite.generateKeyPair().privateKeyPem;
    writePrivateKey(keyPath, keyPem);
    writeFileAtomicSync(certPath, issueGmCertificate({ caKey, caPem, publicKey: createPrivateKey(keyPem), commonName, role, days: o.days, now: o.now }));
  };
  pair(paths.agencyKey, paths.agencyEncCert, `${o.agency} encryption`, ROLE_ENCRYPTION);
  pair(paths.receiptKey, paths.receiptCert, `${o.agency} receipts`, ROLE_RECEIPT);
}




export interface GmIssue {
  caKey: KeyObject;
  caPem: string;
  publicKey: KeyObject;
  commonName: string;
  role: CertRole;
  days: number;
  now: Date;
  dnsNames?: string[];
}

/** An end-entity certificate from a gm CA, with the extensions ca.ts gives the same role under intl. */
export function issueGmCertificate(o: GmIssue): string {
  return issueSm2Certificate({
    issuerKey: o.caKey,
    issuerCertPem: o.caPem,
    publicKey: o.publicKey,
    subject: sm2Name([['CN', o.commonName], ['OU', o.role]]),
    usage: o.role === ROLE_ENCRYPTION ? 'encipher' : 'sign',
    ...(o.role === ROLE_DEVICE || o.role === ROLE_RECEIVER ? { extKeyUsage: 'clientAuth' as const } : {}),
    ...(o.role === ROLE_SERVER ? { extKeyUsage: 'serverAuth' as const, altNames: o.dnsNames ?? [o.commonName] } : {}),
    days: o.days,
    now: o.now,
  });
}

/** The CA certificate and key of a gm CA folder. */
export function loadGmCa(paths: CaPaths): { caPem: string; caKey: KeyObject } {
  const hint = 'run `recgw ca init --suite gm --out DIR` first, or point --ca at the folder it wrote';
  const caPem = readPem(paths.caCert, 'CA certificate', hint);
  const caKey = createPrivateKey(readPem(paths.caKey, 'CA private key', hint));
  return { caPem, caKey };
}

/** The O of a gm CA's subject, for naming what it issues. */
export function gmAgencyName(caPem: string): string | undefined {
  return /^O=(.*)$/m.exec(new X509Certificate(caPem).subject)?.[1];
}
