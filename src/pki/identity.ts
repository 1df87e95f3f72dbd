/**
 * The device's identity: its private key (0600, never logged), its CSR, and its certificate from the agency CA.
 * The gateway refuses to record without a certificate that is present, in date, issued by the agency CA to
 * this device ID, and carries this device's key; the error says which of these failed and what to do.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { ROLE_DEVICE } from './roles.js';
import { loadPrivateKey, readPem, sameSpki } from './keys.js';
import { checkCertificate, parseCertificate, splitPemBundle, type CertProblem } from './certs.js';
import { caSuiteOf } from './gm-ca.js';
import { existsSync, readFileSync } from 'node:fs';
import { notOneCertificate } from './encryption-cert.js';
import { KeySigner, type Signer } from '../evidence/signer.js';
import { RecgwError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fsx.js';

export interface IdentityPaths {
  dir: string;
  key: string;
  csr: string;
  cert: string;
  /** A gm device's broker TLS key (ECDSA P-256) and its certificate from the transport CA (evidence-format.md §17.8). */
  tlsKey: string;
  tlsCert: string;
}

export function identityPaths(stateDir: string): IdentityPaths {
  const dir = join(stateDir, 'identity');
  return {
    dir,
    key: join(dir, 'device-key.pem'),
    csr: join(dir, 'device.csr'),
    cert: join(dir, 'device.pem'),
    tlsKey: join(dir, 'device-tls-key.pem'),
    tlsCert: join(dir, 'device-tls.pem'),
  };
}

const ENROL_HINT = 'run `recgw enrol csr --config FILE`, have the agency sign the CSR (`recgw ca sign`), then `recgw enrol install`';

/**
 * Check a certificate for this device and return the problems as one user-facing sentence each.
 * Used both before installing a certificate and at every start.
 */
export interface CertIssue {
  kind: CertProblem['kind'] | 'not-one-certificate';
  /** What is wrong and what to do, in English (the console says the kind in its own language). */
  text: string;
}

export function deviceCertificateIssues(certPem: string, caPem: string, deviceId: string, deviceKey: KeyObject, at: Date): CertIssue[] {
  return checkCertificate(certPem, [caPem], { at, commonName: deviceId, role: ROLE_DEVICE, publicKey: createPublicKey(deviceKey) }).map((p) => ({
    kind: p.kind,
    text: issueText(p),
  }));
}

function issueText(p: CertProblem): string {
  switch (p.kind) {
    case 'expired':
      return `the device certificate has expired (${p.detail}): enrol again to get a new one`;
    case 'not-yet-valid':
      return `the device certificate is not valid yet (${p.detail}): check the clock`;
    case 'foreign':
      return `the device certificate is foreign: ${p.detail}; install one signed by the configured CA`;
    case 'wrong-subject':
      return `the device certificate belongs to another device: ${p.detail}`;
    case 'wrong-role':
      return `the certificate is not a device certificate: ${p.detail}`;
    case 'wrong-key':
      return `the device certificate is foreign: ${p.detail}`;
    case 'unparseable':
      return `the device certificate is unreadable: ${p.detail}`;
  }
}

export const deviceCertificateProblems = (certPem: string, caPem: string, deviceId: string, deviceKey: KeyObject, at: Date): string[] =>
  deviceCertificateIssues(certPem, caPem, deviceId, deviceKey, at).map((i) => i.text);

/** A certificate the gateway will not install, with each reason. */
export class CertificateRefused extends RecgwError {
  constructor(readonly issues: CertIssue[]) {
    super('identity', `refusing to install the certificate: ${issues.map((i) => i.text).join('; ')}`);
  }
}

/**
 * Install a signed certificate after checking it; refuses one that would not let the gateway record. A gm device
 * (one with a TLS key, enrol.ts) may be given its SM2 device certificate, its TLS certificate from the transport CA
 * (`transportCaCertPath`), or both in one file as `recgw ca sign` writes them; each goes where its key says, and
 * nothing is written unless every one passes.
 */
export function installCertificate(deviceId: string, paths: IdentityPaths, caCertPath: string, certPem: string, at = new Date(), transportCaCertPath?: string): void {
  const tlsKey = existsSync(paths.tlsKey) ? loadPrivateKey(paths.tlsKey, 'device TLS key', ENROL_HINT) : undefined;
  const pems = tlsKey ? splitPemBundle(certPem) : [];
  // device.pem is world-readable and served by the console: a key block appended to it would be out in the open.
  const form = pems.length === 2 && !/PRIVATE KEY/.test(certPem) ? undefined : notOneCertificate(certPem);
  if (form) throw new CertificateRefused([{ kind: 'not-one-certificate', text: `${form.problem.en}: give the device certificate alone` }]);
  const writes: [string, string][] = [];
  for (const pem of pems.length === 2 ? pems : [certPem]) {
    if (tlsKey && sameSpki(parseCertificate(pem)?.publicKey, tlsKey)) {
      if (!transportCaCertPath) throw new RecgwError('config', 'this is the device\'s TLS certificate, issued by a transport CA: set agency.transportCaCert in the config to the agency\'s transport/ca.pem first');
      const transportPem = readPem(transportCaCertPath, 'transport CA certificate', 'set agency.transportCaCert in the config to the agency\'s transport/ca.pem');
      const issues = tlsCertificateIssues(pem, transportPem, deviceId, tlsKey, at);
      if (issues.length > 0) throw new CertificateRefused(issues);
      writes.push([paths.tlsCert, pem]);
    } else {
      const key = loadPrivateKey(paths.key, 'device key', ENROL_HINT);
      const caPem = readPem(caCertPath, 'agency CA certificate', 'set agency.caCert in the config');
      const issues = deviceCertificateIssues(pem, caPem, deviceId, key, at);
      if (issues.length > 0) throw new CertificateRefused(issues);
      writes.push([paths.cert, pem]);
    }
  }
  if (new Set(writes.map(([p]) => p)).size !== writes.length) {
    throw new CertificateRefused([{ kind: 'not-one-certificate', text: 'the file holds two certificates for the same key: give the device certificate and the TLS certificate' }]);
  }
  for (const [path, pem] of writes) writeFileAtomicSync(path, pem, 0o644);
}

/** A gm device's TLS certificate checked as its device certificate is, against the transport CA and the TLS key. */
export function tlsCertificateIssues(certPem: string, transportCaPem: string, deviceId: string, tlsKey: KeyObject, at: Date): CertIssue[] {
  return checkCertificate(certPem, [transportCaPem], { at, commonName: deviceId, role: ROLE_DEVICE, publicKey: createPublicKey(tlsKey), transport: true }).map((p) => ({
    kind: p.kind,
    text: `TLS certificate: ${issueText(p).replace(/the device certificate/g, 'it').replace('the configured CA', 'the transport CA (agency.transportCaCert)')}`,
  }));
}

/**
 * What the uplink presents to the broker and trusts it by: under an intl CA the device key and certificate and the
 * agency CA; under a gm CA the TLS key and certificate and the transport CA (§17.8), checked here as at start.
 */
export function uplinkTls(deviceId: string, paths: IdentityPaths, agency: { caCert: string; transportCaCert?: string }, at = new Date()): { key: string; cert: string; caFile: string } {
  const caPem = readPem(agency.caCert, 'agency CA certificate', 'set agency.caCert in the config to the agency CA certificate');
  if (caSuiteOf(caPem) !== 'gm') return { key: readFileSync(paths.key, 'utf8'), cert: readFileSync(paths.cert, 'utf8'), caFile: agency.caCert };
  if (!agency.transportCaCert) {
    throw new RecgwError('config', 'the agency CA is gm, whose certificates cannot serve in TLS (evidence-format.md §17.8): set agency.transportCaCert to the agency\'s transport/ca.pem');
  }
  const hint = `this gm device has no broker TLS certificate: ${ENROL_HINT} (the CSR file holds the TLS request too)`;
  const key = loadPrivateKey(paths.tlsKey, 'device TLS key', hint);
  const cert = readPem(paths.tlsCert, 'device TLS certificate', hint);
  const issues = tlsCertificateIssues(cert, readPem(agency.transportCaCert, 'transport CA certificate', 'set agency.transportCaCert to the agency\'s transport/ca.pem'), deviceId, key, at);
  if (issues.length > 0) throw new RecgwError('identity', `cannot connect to the broker: ${issues.map((i) => i.text).join('; ')}`);
  return { key: readFileSync(paths.tlsKey, 'utf8'), cert, caFile: agency.transportCaCert };
}

export interface DeviceIdentity {
  signer: Signer;
  certPem: string;
  key: KeyObject;
}

/** Load the identity the gateway records with, or fail saying exactly what is missing or wrong. */
export function loadDeviceIdentity(deviceId: string, paths: IdentityPaths, caCertPath: string, at = new Date()): DeviceIdentity {
  const key = loadPrivateKey(paths.key, 'device key', ENROL_HINT);
  const certPem = readPem(paths.cert, 'device certificate', `the device is not enrolled: ${ENROL_HINT}`);
  const caPem = readPem(caCertPath, 'agency CA certificate', 'set agency.caCert in the config to the agency CA certificate');
  const problems = deviceCertificateProblems(certPem, caPem, deviceId, key, at);
  if (problems.length > 0) throw new RecgwError('identity', `cannot record: ${problems.join('; ')}`);
  return { signer: new KeySigner(key, certPem), certPem, key };
}
