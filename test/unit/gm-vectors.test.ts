/**
 * The published test vectors of GB/T 32905 (SM3), GB/T 32907 (SM4) and GB/T 32918 (SM2) against src/crypto/gm.
 * The values and their sources are in test/fixtures/gm-vectors.json.
 */
import { describe, expect, it } from 'vitest';
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sm2 } from 'sm-crypto-v2';
import { sm3 } from '../../src/crypto/gm/sm3.js';
import { sm2KeyPairFromScalar } from '../../src/crypto/gm/sm2-keys.js';
import { decodeSm2Signature, sm2Digest, sm2Verify, sm2Z } from '../../src/crypto/gm/sm2-sign.js';
import { c1c3c2FromDer, derFromC1C3C2, sm2Decrypt } from '../../src/crypto/gm/sm2-encrypt.js';
import { encodeDerSequence, derInteger } from '../../src/crypto/gm/der.js';

const V = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'gm-vectors.json'), 'utf8'));
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('SM3 (GB/T 32905 Annex A)', () => {
  for (const v of V.sm3.vectors as { name: string; ascii: string; digest: string }[]) {
    it(v.name, () => {
      expect(sm3(Buffer.from(v.ascii, 'ascii')).toString('hex')).toBe(v.digest);
    });
  }
});

describe('SM4 (GB/T 32907 Annex A)', () => {
  const ecb = (): ReturnType<typeof createCipheriv> => createCipheriv('sm4-ecb', hex(V.sm4.key), null).setAutoPadding(false);

  it('example 1: one block', () => {
    expect(ecb().update(hex(V.sm4.plaintext)).toString('hex')).toBe(V.sm4.ciphertext);
  });

  it('example 2: the block encrypted 1,000,000 times', () => {
    const c = ecb();
    let block = hex(V.sm4.plaintext);
    for (let i = 0; i < V.sm4.iterations; i++) block = c.update(block);
    expect(block.toString('hex')).toBe(V.sm4.ciphertextAfterIterations);
  });
});

describe('SM2 signature (GB/T 32918.5 Annex A)', () => {
  const S = V.sm2Signature;
  const msg = Buffer.from(S.message, 'ascii');
  const der = encodeDerSequence([derInteger(BigInt(`0x${S.r}`)), derInteger(BigInt(`0x${S.s}`))]);

  it('the public key is d·G', () => {
    expect(sm2KeyPairFromScalar(S.privateKey).publicKey).toBe(S.publicKey);
  });

  it('Z_A and e from the ID and the public key', () => {
    expect(sm2Z(S.publicKey, S.id).toString('hex')).toBe(S.za);
    expect(sm2Digest(msg, S.publicKey, S.id).toString('hex')).toBe(S.e);
    // The ID as bytes is the same ID (openssl's hexdistid).
    expect(sm2Z(S.publicKey, Buffer.from(S.id, 'ascii')).toString('hex')).toBe(S.za);
  });

  it('the published signature verifies with the published key and ID', () => {
    expect(sm2Verify(msg, der, S.publicKey, { id: S.id })).toBe(true);
    expect(sm2Verify(msg, der, S.publicKey)).toBe(true); // the default ID is this one
  });

  it('the published signature fails for another message, ID, or a changed r or s', () => {
    expect(sm2Verify(Buffer.from('message digesT'), der, S.publicKey)).toBe(false);
    expect(sm2Verify(msg, der, S.publicKey, { id: '1234567812345679' })).toBe(false);
    const r = BigInt(`0x${S.r}`);
    const s = BigInt(`0x${S.s}`);
    expect(sm2Verify(msg, encodeDerSequence([derInteger(r ^ 1n), derInteger(s)]), S.publicKey)).toBe(false);
    expect(sm2Verify(msg, encodeDerSequence([derInteger(r), derInteger(s ^ 1n)]), S.publicKey)).toBe(false);
  });

  it('with the annex\'s k, our e gives the published r and s (the library signs, fed k through its point pool)', () => {
    const key = sm2KeyPairFromScalar(S.privateKey);
    const k = BigInt(`0x${S.k}`);
    const kG = sm2.getPublicKeyFromPrivateKey(S.k);
    const point = { k, x1: BigInt(`0x${kG.slice(2, 66)}`), privateKey: S.k, publicKey: kG };
    const e = sm2Digest(msg, key.publicKey, S.id);
    const rs = sm2.doSignature(e, key.privateKey, { hash: false, der: false, pointPool: [point] });
    expect(rs).toBe(S.r + S.s);
    expect(decodeSm2Signature(der)).toEqual({ r: BigInt(`0x${S.r}`), s: BigInt(`0x${S.s}`) });
  });
});

describe('SM2 encryption (GB/T 32918.5 Annex C)', () => {
  const E = V.sm2Encryption;
  const raw = hex(`04${E.c1x}${E.c1y}${E.c3}${E.c2}`);

  it('C1 is k·G', () => {
    expect(sm2.getPublicKeyFromPrivateKey(E.k)).toBe(`04${E.c1x}${E.c1y}`);
  });

  it('the DER form (GM/T 0009) and C1 || C3 || C2 convert into each other', () => {
    expect(derFromC1C3C2(raw)?.toString('hex')).toBe(E.der);
    expect(c1c3c2FromDer(hex(E.der))?.toString('hex')).toBe(raw.toString('hex'));
  });

  it('the published ciphertext decrypts to the published message', () => {
    const key = sm2KeyPairFromScalar(E.privateKey);
    expect(sm2Decrypt(hex(E.der), key).toString('ascii')).toBe(E.message);
  });

  it('the published ciphertext with one bit changed in C1, C3 or C2 is refused', () => {
    const key = sm2KeyPairFromScalar(E.privateKey);
    for (const at of [10, 65 + 5, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[at]! ^= 0x01;
      const der = derFromC1C3C2(bad);
      // A changed C1 is (almost always) off the curve: no DER form is made for it at all, or decryption refuses it.
      if (der) expect(() => sm2Decrypt(der, key)).toThrow(/cannot be decrypted/);
    }
    const c2 = Buffer.from(raw);
    c2[raw.length - 1]! ^= 0x01;
    expect(() => sm2Decrypt(derFromC1C3C2(c2)!, key)).toThrow(/C3 does not match/);
  });
});
