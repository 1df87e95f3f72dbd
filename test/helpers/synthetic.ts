/**
 * Large signed device folders for the verifier's scale tests: src/demo/synthetic-store.ts with a device key on
 * curve P-256, whose signatures take microseconds instead of RSA's ~0.75 ms (60,000 RSA lines would take most of
 * a minute to sign). The certificate is issued by the test CA with the openssl command line (the demo CA's own
 * code issues RSA certificates only), so the verifier checks a real EC certificate chain.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { KeySigner } from '../../src/evidence/signer.js';
import { caPaths } from '../../src/pki/ca.js';
import { ROLE_DEVICE } from '../../src/pki/ca.js';
import { tmp } from './fixtures.js';

export function ecDeviceSigner(caDir: string, deviceId: string): KeySigner {
  const d = tmp('recgw-ecdev-');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPath = join(d, 'device-key.pem');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const ca = caPaths(caDir);
  const csr = join(d, 'device.csr');
  const cert = join(d, 'device.pem');
  execFileSync('openssl', ['req', '-new', '-key', keyPath, '-subj', `/CN=${deviceId}/OU=${ROLE_DEVICE}`, '-out', csr]);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.caCert, '-CAkey', ca.caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '30', '-sha256', '-out', cert], { stdio: 'pipe' });
  return new KeySigner(createPrivateKey(readFileSync(keyPath, 'utf8')), readFileSync(cert, 'utf8'));
}
