/**
 * The device's identity: its private key (0600, never logged), its CSR, and its certificate from the agency CA.
 * The gateway refuses to record without a certificate that is present, in date, issued by the agency CA to
 * this device ID, and carries this device's key; the error says which of these failed and what to do.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { ROLE_DEVICE } from './roles.js';
import { loadPrivateKey, readPem } from './keys.js';
import { checkCertificate, type CertProblem } from './certs.js';
import { notOneCertificate } from './encryption-cert.js';
import { KeySigner, type Signer } from '../evidence/signer.js';
import { RecgwError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fsx.js';

export interface IdentityPaths {
  dir: string;
  key: string;
  csr: string;
  cert: string;
}

export function identityPaths(stateDir: string): IdentityPaths {
  const dir = join(stateDir, 'identity');
  return { dir, key: join(dir, 'device-key.pem'), csr: join(dir, 'device.csr'), cert: join(dir, 'device.pem') };
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

/** Install a signed certificate after checking it; refuses one that would not let the gateway record. */
export function installCertificate(deviceId: string, paths: IdentityPaths, caCertPath: string, certPem: string, at = new Date()): void {
  // device.pem is world-readable and served by the console: a key block appended to it would be out in the open.
  const form = notOneCertificate(certPem);
  if (form) throw new CertificateRefused([{ kind: 'not-one-certificate', text: `${form.problem.en}: give the device certificate alone` }]);
  const key = loadPrivateKey(paths.key, 'device key', ENROL_HINT);
  const caPem = readPem(caCertPath, 'agency CA certificate', 'set agency.caCert in the config');
  const issues = deviceCertificateIssues(certPem, caPem, deviceId, key, at);
  if (issues.length > 0) throw new CertificateRefused(issues);
  writeFileAtomicSync(paths.cert, certPem, 0o644);
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
