/**
 * The agency side of PKI, for tests and the demo: a CA, an encryption key pair, a receipt-signing certificate,
 * and issuing certificates from CSRs. Production agencies use their own CA; the gateway only ever sees the
 * public parts. node-forge builds the X.509 objects (node:crypto cannot); keys come from node:crypto. A gm CA
 * (`--suite gm`, issue 19) is SM2 throughout and built by gm-ca.ts, with a transport CA beside it for the broker's
 * TLS (transport-ca.ts); each function here asks the CA folder's certificate which kind it is (gm-ca.ts, caSuiteOf).
 */
import { randomSerial } from './serial.js';
import forge from 'node-forge';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRsaKeyPair, readPem, writePrivateKey } from './keys.js';
import { RecgwError } from '../util/errors.js';
import { deviceIdProblem, receiverNameProblem } from './names.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import { NoteSigner } from '../tlog/note.js';
import { issueEd25519Certificate } from './ed25519-cert.js';
import { KeySigner } from '../evidence/signer.js';
import { caSuiteOf, initGmCa, issueGmCertificate, loadGmCa, gmAgencyName } from './gm-ca.js';
import { readCsr, splitCsrBundle, OID_SM2_WITH_SM3 } from './sm2-cert.js';
import { initTransportCa, issueTransportCertificate, newTlsKeyPem } from './transport-ca.js';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import type { SuiteName } from '../crypto/suite.js';

/** Organisational unit that marks what a certificate is for; the verifier checks it. */
export { ROLE_DEVICE, ROLE_RECEIPT, ROLE_SERVER, ROLE_RECEIVER, ROLE_LOG, ROLE_ENCRYPTION, ROLE_ROSTER, ROLE_DESK, type CertRole } from './roles.js';
import { ROLE_DEVICE, ROLE_RECEIPT, ROLE_SERVER, ROLE_RECEIVER, ROLE_LOG, ROLE_ENCRYPTION, ROLE_ROSTER, ROLE_DESK, type CertRole } from './roles.js';

/** Files `recgw ca init` writes, relative to its output folder. */
export const CA_FILES = {
  caCert: 'ca.pem',
  caKey: 'ca-key.pem',
  agencyKey: 'agency-key.pem',
  /** The agency encryption certificate (OU=recgw-encryption): what gateways are given, never the bare key. */
  agencyEncCert: 'agency-enc.pem',
  receiptKey: 'receipt-key.pem',
  receiptCert: 'receipt.pem',
  logKey: 'log-key.pem',
  logCert: 'log.pem',
  logVkey: 'log.vkey',
  /** A gm CA's second log key (SM2) and its certificate (OU=recgw-log, CN = the origin): the SM2 line of checkpoints. */
  logSm2Key: 'log-sm2-key.pem',
  logSm2Cert: 'log-sm2.pem',
  /** The key and certificate (OU=recgw-roster) that sign officer rosters (`recgw ca roster`). */
  rosterKey: 'roster-signing-key.pem',
  rosterCert: 'roster-signing.pem',
} as const;

export { isValidDeviceId } from './names.js';

function serial(): string {
  return randomSerial().toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number, now: Date): void {
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate small clock skew between hosts
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
}

export interface CaInitOptions {
  out: string;
  agencyName?: string;
  days?: number;
  now?: Date;
  /** The algorithm suite of everything the CA issues (default intl). */
  suite?: SuiteName;
}

export interface CaPaths {
  caCert: string;
  caKey: string;
  agencyKey: string;
  agencyEncCert: string;
  receiptKey: string;
  receiptCert: string;
  logKey: string;
  logCert: string;
  logVkey: string;
  logSm2Key: string;
  logSm2Cert: string;
  rosterKey: string;
  rosterCert: string;
}

export function caPaths(dir: string): CaPaths {
  return {
    caCert: join(dir, CA_FILES.caCert),
    caKey: join(dir, CA_FILES.caKey),
    agencyKey: join(dir, CA_FILES.agencyKey),
    agencyEncCert: join(dir, CA_FILES.agencyEncCert),
    receiptKey: join(dir, CA_FILES.receiptKey),
    receiptCert: join(dir, CA_FILES.receiptCert),
    logKey: join(dir, CA_FILES.logKey),
    logCert: join(dir, CA_FILES.logCert),
    logVkey: join(dir, CA_FILES.logVkey),
    logSm2Key: join(dir, CA_FILES.logSm2Key),
    logSm2Cert: join(dir, CA_FILES.logSm2Cert),
    rosterKey: join(dir, CA_FILES.rosterKey),
    rosterCert: join(dir, CA_FILES.rosterCert),
  };
}

/** A DN value as UTF8String: agency names are Chinese, and forge's default string type cannot carry them. */
const utf8 = (v: string): { value: string; valueTagClass: number } => ({ value: v, valueTagClass: forge.asn1.Type.UTF8 });

/**
 * Create a demo/test agency: CA, agency encryption key pair with its certificate, receipt-signing key and
 * certificate.
 */
export function initCa(opts: CaInitOptions): CaPaths {
  const now = opts.now ?? new Date();
  const agency = opts.agencyName ?? 'recgw demo agency';
  mkdirSync(opts.out, { recursive: true, mode: 0o700 });
  const paths = caPaths(opts.out);
  if (opts.suite === 'gm') {
    initGmCa(paths, { agency, days: opts.days ?? 3650, now });
    initTransportCa(opts.out, { agency, days: opts.days ?? 3650, now });
    ensureLogKey(opts.out, { days: opts.days ?? 3650, now });
    return paths;
  }

  const caKeys = generateRsaKeyPair(3072);
  const caPriv = forge.pki.privateKeyFromPem(caKeys.privateKeyPem);
  const caPub = forge.pki.publicKeyFromPem(caKeys.publicKeyPem);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caPub;
  ca.serialNumber = serial();
  validity(ca, opts.days ?? 3650, now);
  const caSubject = [
    { name: 'commonName', ...utf8(`${agency} CA`) },
    { name: 'organizationName', ...utf8(agency) },
  ];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caPriv, forge.md.sha256.create());

  writePrivateKey(paths.caKey, caKeys.privateKeyPem);
  writeFileAtomicSync(paths.caCert, forge.pki.certificateToPem(ca));

  // The agency's own key pairs: each private key stays in this folder, its certificate goes out.
  const agencyPair = (keyPath: string, certPath: string, bits: number, commonName: string, role: CertRole): void => {
    const keys = generateRsaKeyPair(bits);
    writePrivateKey(keyPath, keys.privateKeyPem);
    const publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    const cert = issueCertificate({ ca, caKey: caPriv, publicKey, commonName, role, days: opts.days ?? 3650, now });
    writeFileAtomicSync(certPath, forge.pki.certificateToPem(cert));
  };
  agencyPair(paths.agencyKey, paths.agencyEncCert, 3072, `${agency} encryption`, ROLE_ENCRYPTION);
  agencyPair(paths.receiptKey, paths.receiptCert, 2048, `${agency} receipts`, ROLE_RECEIPT);
  ensureLogKey(opts.out, { days: opts.days ?? 3650, now });
  return paths;
}

/**
 * The agency log's checkpoint key (Ed25519) and its certificate from the CA, unless the CA folder has them: a CA
 * made before the log existed gets them on first use. The log's origin (its note key name) is derived from the CA
 * key, so it is unique per agency and stays the same however often this runs. A gm CA's log has an SM2 key beside
 * it for the checkpoints' second signature (log-sm2-key.pem, log-sm2.pem), made the same way.
 */
export function ensureLogKey(caDir: string, o: { days?: number; now?: Date } = {}): { origin: string; vkey: string } {
  const p = caPaths(caDir);
  const caCertPem = readPem(p.caCert, 'CA certificate', 'run `recgw ca init --out DIR` first');
  const origin = logOrigin(caCertPem);
  if (!existsSync(p.logKey) || !existsSync(p.logCert)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const caKey = createPrivateKey(readPem(p.caKey, 'CA private key', 'the log key is certified by the CA'));
    const certPem = issueEd25519Certificate({ caCertPem, caKey, publicKey, commonName: origin, role: ROLE_LOG, days: o.days ?? 3650, now: o.now ?? new Date() });
    writePrivateKey(p.logKey, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    writeFileAtomicSync(p.logCert, certPem);
  }
  if (caSuiteOf(caCertPem) === 'gm' && (!existsSync(p.logSm2Key) || !existsSync(p.logSm2Cert))) {
    // The SM2 line of a gm log's checkpoints (evidence-format.md §17.9): a CA folder from before gets its key now.
    const { caPem, caKey } = loadGmCa(p);
    const keyPem = gmSuite.generateKeyPair().privateKeyPem;
    const certPem = issueGmCertificate({ caKey, caPem, publicKey: createPrivateKey(keyPem), commonName: origin, role: ROLE_LOG, days: o.days ?? 3650, now: o.now ?? new Date() });
    writePrivateKey(p.logSm2Key, keyPem);
    writeFileAtomicSync(p.logSm2Cert, certPem);
  }
  const vkey = new NoteSigner(origin, createPrivateKey(readFileSync(p.logKey, 'utf8'))).vkey;
  writeFileAtomicSync(p.logVkey, vkey + '\n');
  return { origin, vkey };
}

/**
 * The agency's roster-signing key (RSA 2048) and its certificate (OU=recgw-roster), unless the CA folder has them:
 * made at the first `recgw ca roster`, so an agency without rosters (and every test CA) spends no key on them.
 * Returns a signer for `recgw ca roster`.
 */
export function ensureRosterKey(caDir: string, o: { days?: number; now?: Date } = {}): KeySigner {
  const p = caPaths(caDir);
  if ((!existsSync(p.rosterKey) || !existsSync(p.rosterCert)) && isGmCa(caDir)) {
    const { caPem, caKey } = loadGmCa(p);
    const keyPem = gmSuite.generateKeyPair().privateKeyPem;
    const certPem = issueGmCertificate({ caKey, caPem, publicKey: createPrivateKey(keyPem), commonName: `${gmAgencyName(caPem) ?? 'agency'} rosters`, role: ROLE_ROSTER, days: o.days ?? 3650, now: o.now ?? new Date() });
    writePrivateKey(p.rosterKey, keyPem);
    writeFileAtomicSync(p.rosterCert, certPem);
  }
  if (!existsSync(p.rosterKey) || !existsSync(p.rosterCert)) {
    const { ca, caKey } = loadCa(caDir);
    const keys = generateRsaKeyPair(2048);
    const publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    const cert = issueCertificate({ ca, caKey, publicKey, commonName: `${subjectOf(ca, 'O') ?? 'agency'} rosters`, role: ROLE_ROSTER, days: o.days ?? 3650, now: o.now ?? new Date() });
    writePrivateKey(p.rosterKey, keys.privateKeyPem);
    writeFileAtomicSync(p.rosterCert, forge.pki.certificateToPem(cert));
  }
  return new KeySigner(createPrivateKey(readPem(p.rosterKey, 'roster-signing key', 'run `recgw ca init` first')), readFileSync(p.rosterCert, 'utf8'));
}

/** Whether the CA in `caDir` is a gm CA (its certificate is signed SM2-with-SM3). */
export function isGmCa(caDir: string): boolean {
  return caSuiteOf(readPem(caPaths(caDir).caCert, 'CA certificate', 'run `recgw ca init --out DIR` first, or point --ca at the folder it wrote')) === 'gm';
}

const subjectOf = (c: forge.pki.Certificate, short: string): string | undefined => c.subject.getField(short)?.value as string | undefined;

/** The log origin of an agency: "recgw-log/" and the first 16 hex digits of the SHA-256 of its CA key. */
export function logOrigin(caCertPem: string): string {
  const spki = new X509Certificate(caCertPem).publicKey.export({ format: 'der', type: 'spki' });
  return `recgw-log/${createHash('sha256').update(spki).digest('hex').slice(0, 16)}`;
}

interface IssueOptions {
  ca: forge.pki.Certificate;
  caKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.PublicKey;
  commonName: string;
  role: CertRole;
  days: number;
  now: Date;
  dnsNames?: string[];
}

function issueCertificate(o: IssueOptions): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = o.publicKey;
  cert.serialNumber = serial();
  validity(cert, o.days, o.now);
  cert.setSubject([
    { name: 'commonName', ...utf8(o.commonName) },
    { name: 'organizationalUnitName', value: o.role },
  ]);
  cert.setIssuer(o.ca.subject.attributes);
  const exts: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    // The encryption key only ever wraps data keys; every other role signs (and TLS may encipher).
    o.role === ROLE_ENCRYPTION
      ? { name: 'keyUsage', keyEncipherment: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: o.ca.generateSubjectKeyIdentifier().getBytes() },
  ];
  // Devices and receivers are both TLS clients of the broker.
  if (o.role === ROLE_DEVICE || o.role === ROLE_RECEIVER) exts.push({ name: 'extKeyUsage', clientAuth: true });
  if (o.role === ROLE_SERVER) {
    exts.push({ name: 'extKeyUsage', serverAuth: true });
    const names = o.dnsNames ?? [o.commonName];
    exts.push({
      name: 'subjectAltName',
      altNames: names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? { type: 7, ip: n } : { type: 2, value: n })),
    });
  }
  cert.setExtensions(exts);
  cert.sign(o.caKey, forge.md.sha256.create());
  return cert;
}

function loadCa(caDir: string): { ca: forge.pki.Certificate; caKey: forge.pki.rsa.PrivateKey } {
  const p = caPaths(caDir);
  const hint = 'run `recgw ca init --out DIR` first, or point --ca at the folder it wrote';
  const ca = forge.pki.certificateFromPem(readPem(p.caCert, 'CA certificate', hint));
  const caKey = forge.pki.privateKeyFromPem(readPem(p.caKey, 'CA private key', hint)) as forge.pki.rsa.PrivateKey;
  // forge parses UTF8String values as UTF-8 bytes but encodes them as text: decode, or every issuer DN we
  // write would differ from the CA's own subject (and no certificate it issues would chain).
  for (const a of ca.subject.attributes) {
    if ((a.valueTagClass as unknown) === forge.asn1.Type.UTF8 && typeof a.value === 'string') a.value = forge.util.decodeUtf8(a.value);
  }
  return { ca, caKey };
}

export interface SignCsrOptions {
  caDir: string;
  csrPem: string;
  days?: number;
  now?: Date;
}

/**
 * Issue a device certificate from a CSR. The CSR must be self-consistent and name a valid device ID, which is never
 * a receiver name (names.ts): the broker would give a device certificate with a receiver's name that receiver's rights.
 */
export function signDeviceCsr(o: SignCsrOptions): { certPem: string; deviceId: string } {
  if (isGmCa(o.caDir)) return signGmDeviceCsrs(o);
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(o.csrPem);
  } catch (err) {
    throw new RecgwError('invalid', 'the CSR is not a PEM certificate request (expected -----BEGIN CERTIFICATE REQUEST-----)', { cause: err });
  }
  if (!csr.verify()) throw new RecgwError('invalid', 'the CSR signature does not verify: it was altered or not made with the device key');
  const cn = (csr.subject.getField('CN')?.value as string | undefined) ?? '';
  const problem = deviceIdProblem(cn);
  if (problem) throw new RecgwError('invalid', `refusing to sign the CSR: its CN ${problem}`);
  if (!csr.publicKey) throw new RecgwError('invalid', 'the CSR carries no public key');
  const { ca, caKey } = loadCa(o.caDir);
  const cert = issueCertificate({
    ca,
    caKey,
    publicKey: csr.publicKey,
    commonName: cn,
    role: ROLE_DEVICE,
    days: o.days ?? 825,
    now: o.now ?? new Date(),
  });
  return { certPem: forge.pki.certificateToPem(cert), deviceId: cn };
}

/**
 * A gm device's CSR file holds its SM2 request and, when it enrols for the broker too, its TLS request (enrol.ts):
 * the first gets a device certificate from the gm CA, the second a TLS client certificate from the transport CA
 * (§17.8). Both must name the same valid device ID. The certificates come back in the requests' order, one PEM file.
 */
function signGmDeviceCsrs(o: SignCsrOptions): { certPem: string; deviceId: string } {
  const reqs = splitCsrBundle(o.csrPem).map(readCsr);
  if (reqs.length === 0) throw new RecgwError('invalid', 'the CSR is not a PEM certificate request (expected -----BEGIN CERTIFICATE REQUEST-----)');
  if (reqs.length > 2 || reqs.filter((r) => r.algorithm === OID_SM2_WITH_SM3).length > 1 || reqs.filter((r) => r.algorithm !== OID_SM2_WITH_SM3).length > 1) {
    throw new RecgwError('invalid', 'a gm device CSR file holds at most one SM2 request (the device key) and one ECDSA request (its TLS key)');
  }
  const deviceId = reqs[0]!.commonName;
  for (const r of reqs) {
    const problem = deviceIdProblem(r.commonName);
    if (problem) throw new RecgwError('invalid', `refusing to sign the CSR: its CN ${problem}`);
    if (r.commonName !== deviceId) throw new RecgwError('invalid', `refusing to sign the CSR: its requests name two devices (${deviceId}, ${r.commonName})`);
  }
  const { caPem, caKey } = loadGmCa(caPaths(o.caDir));
  const days = o.days ?? 825;
  const now = o.now ?? new Date();
  if (reqs.some((r) => r.algorithm !== OID_SM2_WITH_SM3)) ensureTransportCa(o.caDir, now);
  const pems = reqs.map((r) =>
    r.algorithm === OID_SM2_WITH_SM3
      ? issueGmCertificate({ caKey, caPem, publicKey: r.publicKey, commonName: deviceId, role: ROLE_DEVICE, days, now })
      : issueTransportCertificate(o.caDir, { publicKey: r.publicKey, commonName: deviceId, role: ROLE_DEVICE, days, now }),
  );
  return { certPem: pems.join(''), deviceId };
}

/** The transport CA of the gm CA in `caDir`, made now if the folder predates it (as ensureLogKey does for the log key). */
function ensureTransportCa(caDir: string, now: Date): void {
  const { caPem } = loadGmCa(caPaths(caDir));
  initTransportCa(caDir, { agency: gmAgencyName(caPem) ?? 'agency', days: 3650, now });
}

/**
 * A certificate with a new key of its own, issued by the CA in `caDir`. Under a gm CA, TLS certificates (broker,
 * receivers) come from its transport CA with ECDSA P-256 keys (OpenSSL 3.0 has no SM2 in TLS, §17.8); the desk's
 * signing certificate is evidence and SM2 from the gm CA.
 */
function issueWithNewKey(caDir: string, o: { commonName: string; role: CertRole; days?: number; now?: Date; dnsNames?: string[] }): { certPem: string; keyPem: string } {
  if (isGmCa(caDir)) {
    const days = o.days ?? 825;
    const now = o.now ?? new Date();
    if (o.role === ROLE_SERVER || o.role === ROLE_RECEIVER) {
      ensureTransportCa(caDir, now);
      const keyPem = newTlsKeyPem();
      const certPem = issueTransportCertificate(caDir, { publicKey: createPrivateKey(keyPem), commonName: o.commonName, role: o.role, days, now, ...(o.dnsNames ? { dnsNames: o.dnsNames } : {}) });
      return { certPem, keyPem };
    }
    const { caPem, caKey } = loadGmCa(caPaths(caDir));
    const keyPem = gmSuite.generateKeyPair().privateKeyPem;
    const certPem = issueGmCertificate({ caKey, caPem, publicKey: createPrivateKey(keyPem), commonName: o.commonName, role: o.role, days, now });
    return { certPem, keyPem };
  }
  const { ca, caKey } = loadCa(caDir);
  const keys = generateRsaKeyPair(2048);
  const cert = issueCertificate({
    ca,
    caKey,
    publicKey: forge.pki.publicKeyFromPem(keys.publicKeyPem),
    commonName: o.commonName,
    role: o.role,
    days: o.days ?? 825,
    now: o.now ?? new Date(),
    ...(o.dnsNames ? { dnsNames: o.dnsNames } : {}),
  });
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

/** Issue a TLS server certificate (for an MQTT broker) with its own new key. */
export function issueServerCertificate(o: { caDir: string; names: string[]; days?: number; now?: Date }): { certPem: string; keyPem: string } {
  return issueWithNewKey(o.caDir, { commonName: o.names[0] ?? 'localhost', role: ROLE_SERVER, dnsNames: o.names, ...pick(o) });
}

/**
 * Issue a receiver's TLS client certificate (CN = receiver name, the broker's MQTT username and ACL `user`) with its
 * own new key. The name is `receiver:<label>`, which no device ID can be (names.ts).
 */
export function issueReceiverCertificate(o: { caDir: string; name: string; days?: number; now?: Date }): { certPem: string; keyPem: string } {
  const problem = receiverNameProblem(o.name);
  if (problem) throw new RecgwError('usage', `refusing to issue a receiver certificate: ${problem}`);
  return issueWithNewKey(o.caDir, { commonName: o.name, role: ROLE_RECEIVER, ...pick(o) });
}

/** Issue the evidence desk's signing certificate (sample-check reports, the audit chain) with its own new key (RSA; SM2 under a gm CA). */
export function issueDeskSigningCertificate(o: { caDir: string; commonName?: string; days?: number; now?: Date }): { certPem: string; keyPem: string } {
  return issueWithNewKey(o.caDir, { commonName: o.commonName ?? 'evidence desk signing', role: ROLE_DESK, ...pick(o) });
}

/**
 * Issue an agency encryption certificate for an existing public key (a new agency key, when the agency rotates
 * it; or, in tests, a key that must be refused). `recgw ca init` issues the first one itself.
 */
export function issueEncryptionCertificate(o: { caDir: string; publicKeyPem: string; commonName?: string; days?: number; now?: Date }): string {
  if (isGmCa(o.caDir)) {
    const { caPem, caKey } = loadGmCa(caPaths(o.caDir));
    return issueGmCertificate({ caKey, caPem, publicKey: createPublicKey(o.publicKeyPem), commonName: o.commonName ?? 'agency encryption', role: ROLE_ENCRYPTION, days: o.days ?? 3650, now: o.now ?? new Date() });
  }
  const { ca, caKey } = loadCa(o.caDir);
  const cert = issueCertificate({
    ca,
    caKey,
    publicKey: forge.pki.publicKeyFromPem(o.publicKeyPem),
    commonName: o.commonName ?? 'agency encryption',
    role: ROLE_ENCRYPTION,
    days: o.days ?? 3650,
    now: o.now ?? new Date(),
  });
  return forge.pki.certificateToPem(cert);
}

const pick = (o: { days?: number; now?: Date }): { days?: number; now?: Date } => ({ ...(o.days ? { days: o.days } : {}), ...(o.now ? { now: o.now } : {}) });

/** A CSR for the given key, naming the device ID as CN. */
export function createCsr(deviceId: string, privateKeyPem: string, publicKeyPem: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  csr.setSubject([
    { name: 'commonName', value: deviceId },
    { name: 'organizationalUnitName', value: ROLE_DEVICE },
  ]);
  csr.sign(forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}
