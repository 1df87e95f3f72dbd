/**
 * Certificate serials are minimal DER (src/pki/serial.ts): clearing only the top bit of 16 random bytes left a leading
 * zero byte about once in 256 certificates, which OpenSSL (and so Node's X509Certificate) refuses to parse.
 */
import { describe, expect, it } from 'vitest';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { randomSerial } from '../../src/pki/serial.js';
import { issueEd25519Certificate } from '../../src/pki/ed25519-cert.js';
import { caPaths } from '../../src/pki/ca.js';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { afterAll } from 'vitest';

afterAll(cleanupTmp);

describe('certificate serial numbers', () => {
  it('are 16 bytes, positive, never with a leading zero byte', () => {
    for (let i = 0; i < 20_000; i++) {
      const s = randomSerial();
      expect(s.length).toBe(16);
      expect(s[0]! >= 0x40 && s[0]! <= 0x7f).toBe(true);
    }
  });

  it('make 600 Ed25519 log certificates in a row that all parse', () => {
    const ca = makeCa();
    const p = caPaths(ca.dir);
    const caCertPem = readFileSync(p.caCert, 'utf8');
    const caKey = createPrivateKey(readFileSync(p.caKey, 'utf8'));
    const { publicKey } = generateKeyPairSync('ed25519');
    const serials = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const pem = issueEd25519Certificate({ caCertPem, caKey, publicKey, commonName: 'log', role: 'recgw-log', days: 1, now: new Date() });
      serials.add(new X509Certificate(pem).serialNumber);
    }
    expect(serials.size).toBe(600);
  }, 120_000);
});
