/**
 * The console's TLS key and certificate: the device's own (issued by the agency CA, so a technician who trusts
 * that CA can tell this is the real gateway) or, before enrolment or when configured, a self-signed one made once
 * and kept in <stateDir>/console (key 0600). node:crypto makes the key; node-forge writes the certificate.
 */
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { generateRsaKeyPair, writePrivateKey } from '../pki/keys.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import type { Logger } from '../util/log.js';

export interface ConsoleTls {
  key: string;
  cert: string;
  source: 'device' | 'self-signed';
  fingerprint256: string;
}

export const consoleDir = (stateDir: string): string => join(stateDir, 'console');

function usable(keyPem: string, certPem: string, at: Date): boolean {
  try {
    const x = new X509Certificate(certPem);
    if (at < new Date(x.validFrom) || at > new Date(x.validTo)) return false;
    return x.publicKey.equals(createPublicKey(createPrivateKey(keyPem)));
  } catch {
    return false;
  }
}

function selfSigned(deviceId: string, keyPem: string, publicKeyPem: string, at: Date): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(at.getTime() - 3600_000);
  cert.validity.notAfter = new Date(at.getTime() + 10 * 365 * 86400_000);
  const attrs = [
    { name: 'commonName', value: deviceId },
    { name: 'organizationalUnitName', value: 'recgw-console' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 2, value: hostname() },
        { type: 7, ip: '127.0.0.1' },
      ],
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Load (or make) what the console serves. Never throws for a missing device certificate: it falls back. */
export function loadConsoleTls(o: {
  mode: 'device' | 'self-signed';
  deviceId: string;
  stateDir: string;
  identity: { key: string; cert: string };
  log: Logger;
  at?: Date;
}): ConsoleTls {
  const at = o.at ?? new Date();
  const fp = (cert: string): string => new X509Certificate(cert).fingerprint256;
  if (o.mode === 'device' && existsSync(o.identity.key) && existsSync(o.identity.cert)) {
    const key = readFileSync(o.identity.key, 'utf8');
    const cert = readFileSync(o.identity.cert, 'utf8');
    if (usable(key, cert, at)) return { key, cert, source: 'device', fingerprint256: fp(cert) };
    o.log.warn('the device certificate cannot serve the console (missing, expired or not for the device key): using a self-signed one');
  }
  const dir = consoleDir(o.stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, 'tls-key.pem');
  const certPath = join(dir, 'tls-cert.pem');
  if (existsSync(keyPath) && existsSync(certPath)) {
    const key = readFileSync(keyPath, 'utf8');
    const cert = readFileSync(certPath, 'utf8');
    if (usable(key, cert, at)) return { key, cert, source: 'self-signed', fingerprint256: fp(cert) };
  }
  const kp = generateRsaKeyPair(2048);
  const cert = selfSigned(o.deviceId, kp.privateKeyPem, kp.publicKeyPem, at);
  writePrivateKey(keyPath, kp.privateKeyPem);
  writeFileAtomicSync(certPath, cert, 0o644);
  o.log.info('made a self-signed console certificate', { cert: certPath });
  return { key: kp.privateKeyPem, cert, source: 'self-signed', fingerprint256: fp(cert) };
}
