/**
 * Enrolment's first step: the device key (created once, 0600) and a CSR naming the device ID. Apart from
 * identity.ts because the CSR is built with node-forge (through ca.ts), which the running gateway never needs.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import type { SuiteName } from '../crypto/suite.js';
import { ROLE_DEVICE } from './roles.js';
import { createSm2Csr } from './sm2-cert.js';
import { createTlsCsr, newTlsKeyPem } from './transport-ca.js';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createCsr } from './ca.js';
import type { IdentityPaths } from './identity.js';
import { generateRsaKeyPair, writePrivateKey } from './keys.js';
import { writeFileAtomicSync } from '../util/fsx.js';

/**
 * Create the device key if there is none (RSA 2048, or SM2 when `suite` is gm: the suite of the agency CA), and
 * (re)write the CSR for it, signed as its key's kind signs (an SM2 key's CSR SM2-with-SM3, sm2-cert.ts). An SM2
 * device also gets a TLS key (ECDSA P-256, for the broker: OpenSSL 3.0 has no SM2 in TLS, §17.8) and the CSR file
 * holds its request too, after the SM2 one: the agency signs both in one go (`recgw ca sign`). Returns the CSR PEM.
 */
export function prepareEnrolment(deviceId: string, paths: IdentityPaths, suite: SuiteName = 'intl'): { csrPem: string; keyCreated: boolean } {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  let keyCreated = false;
  let privateKeyPem: string;
  if (existsSync(paths.key)) {
    privateKeyPem = readFileSync(paths.key, 'utf8');
  } else {
    const kp = suite === 'gm' ? gmSuite.generateKeyPair() : generateRsaKeyPair(2048);
    writePrivateKey(paths.key, kp.privateKeyPem);
    privateKeyPem = kp.privateKeyPem;
    keyCreated = true;
  }
  const key = createPrivateKey(privateKeyPem);
  const publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
  const csrPem = isSm2Key(key) ? createSm2Csr(deviceId, ROLE_DEVICE, key) + createTlsCsr(deviceId, tlsKey(paths)) : createCsr(deviceId, privateKeyPem, publicKeyPem);
  writeFileAtomicSync(paths.csr, csrPem, 0o644);
  return { csrPem, keyCreated };
}

/** The device's TLS key, made on first use (0600). */
function tlsKey(paths: IdentityPaths): KeyObject {
  if (!existsSync(paths.tlsKey)) writePrivateKey(paths.tlsKey, newTlsKeyPem());
  return createPrivateKey(readFileSync(paths.tlsKey, 'utf8'));
}
