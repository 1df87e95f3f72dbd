/**
 * Enrolment's first step: the device key (created once, 0600) and a CSR naming the device ID. Apart from
 * identity.ts because the CSR is built with node-forge (through ca.ts), which the running gateway never needs.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createCsr } from './ca.js';
import type { IdentityPaths } from './identity.js';
import { generateRsaKeyPair, writePrivateKey } from './keys.js';
import { writeFileAtomicSync } from '../util/fsx.js';

/** Create the device key if there is none, and (re)write the CSR for it. Returns the CSR PEM. */
export function prepareEnrolment(deviceId: string, paths: IdentityPaths): { csrPem: string; keyCreated: boolean } {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  let keyCreated = false;
  let privateKeyPem: string;
  if (existsSync(paths.key)) {
    privateKeyPem = readFileSync(paths.key, 'utf8');
  } else {
    const kp = generateRsaKeyPair(2048);
    writePrivateKey(paths.key, kp.privateKeyPem);
    privateKeyPem = kp.privateKeyPem;
    keyCreated = true;
  }
  const publicKeyPem = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }) as string;
  const csrPem = createCsr(deviceId, privateKeyPem, publicKeyPem);
  writeFileAtomicSync(paths.csr, csrPem, 0o644);
  return { csrPem, keyCreated };
}
