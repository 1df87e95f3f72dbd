/** SM2 keys as PEM (src/crypto/gm/sm2-keys.ts): what is refused, and why. Interop with openssl is gm-openssl's. */
import { describe, expect, it } from 'vitest';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import {
  SM2_N, generateSm2KeyPair, sm2KeyPairFromScalar, sm2PrivateKeyFromPem, sm2PrivateKeyToPem, sm2PublicKeyFromPem, sm2PublicKeyToPem,
} from '../../src/crypto/gm/sm2-keys.js';

const hex64 = (v: bigint): string => v.toString(16).padStart(64, '0');

describe('SM2 keys', () => {
  const pair = generateSm2KeyPair();

  it('round trip through PEM, private and public', () => {
    expect(sm2PrivateKeyFromPem(sm2PrivateKeyToPem(pair))).toEqual(pair);
    expect(sm2PublicKeyFromPem(sm2PublicKeyToPem(pair.publicKey))).toBe(pair.publicKey);
  });

  it('a scalar outside [1, n-2] is refused; n-2 is the largest taken', () => {
    for (const d of [0n, SM2_N - 1n, SM2_N, (1n << 256n) - 1n]) expect(() => sm2KeyPairFromScalar(hex64(d))).toThrow(/\[1, n-2\]/);
    expect(sm2KeyPairFromScalar(hex64(SM2_N - 2n)).privateKey).toBe(hex64(SM2_N - 2n));
    expect(() => sm2KeyPairFromScalar('12')).toThrow(/64 hex digits/);
  });

  it('a pair whose public key is not d·G is not written, and a key file whose public point was altered is refused', () => {
    const other = generateSm2KeyPair();
    expect(() => sm2PrivateKeyToPem({ privateKey: pair.privateKey, publicKey: other.publicKey })).toThrow(/not d·G/);
    // PKCS#8 DER with another key's public point where the point belongs (Node does not check it; we do).
    const der = createPrivateKey(sm2PrivateKeyToPem(pair)).export({ type: 'pkcs8', format: 'der' });
    const swapped = Buffer.concat([der.subarray(0, der.length - 64), Buffer.from(other.publicKey.slice(2), 'hex')]);
    const key = createPrivateKey({ key: swapped, format: 'der', type: 'pkcs8' });
    expect(() => sm2PrivateKeyFromPem(key)).toThrow(/damaged/);
  });

  it('a point off the curve is refused; keys of other kinds are refused', () => {
    expect(() => sm2PublicKeyToPem(`04${'11'.repeat(64)}`)).toThrow(/on the SM2 curve/);
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => sm2PrivateKeyFromPem(p256.privateKey)).toThrow(/not an SM2 key/);
    expect(() => sm2PublicKeyFromPem(p256.publicKey)).toThrow(/not an SM2 key/);
    expect(() => sm2PrivateKeyFromPem('not a key')).toThrow(/cannot be read/);
  });
});
