/**
 * Interop with sm-crypto 0.3, an independent JavaScript implementation of GB/T 32918 / 32905 / 32907 (jsbn
 * arithmetic, its own SM3 and SM4; not the sm-crypto-v2 that src/crypto/gm uses): its SM2 signatures verify with
 * us and ours with it, its SM2 ciphertexts decrypt with us and ours with it, and a blob we seal opens with its SM4
 * and HMAC-SM3 (CTR built from its single-block SM4).
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { sm2 as ref2, sm3 as ref3, sm4 as ref4 } from 'sm-crypto';
import { generateSm2KeyPair } from '../../src/crypto/gm/sm2-keys.js';
import { SM2_DEFAULT_ID, sm2Sign, sm2Verify } from '../../src/crypto/gm/sm2-sign.js';
import { c1c3c2FromDer, derFromC1C3C2, sm2Decrypt, sm2Encrypt } from '../../src/crypto/gm/sm2-encrypt.js';
import { sm3, hmacSm3 } from '../../src/crypto/gm/sm3.js';
import { GM_TAG_BYTES, SM4_IV_BYTES, sm4CtrHmacSeal } from '../../src/crypto/gm/sm4-ctr-hmac.js';

const ROUNDS = 8;
const key = generateSm2KeyPair();
const ids = [SM2_DEFAULT_ID, 'recgw-room-1@公安局'];

describe('SM2 signatures, both ways', () => {
  for (const id of ids) {
    it(`sm-crypto signs (DER, Z with ID ${id}), we verify`, () => {
      for (let i = 0; i < ROUNDS; i++) {
        const data = randomBytes(1 + i * 37);
        const sig = ref2.doSignature([...data], key.privateKey, { der: true, hash: true, publicKey: key.publicKey, userId: id });
        expect(sm2Verify(data, Buffer.from(sig, 'hex'), key.publicKey, { id })).toBe(true);
        expect(sm2Verify(data, Buffer.from(sig, 'hex'), key.publicKey, { id: `${id}x` })).toBe(false);
      }
    });

    it(`we sign (ID ${id}), sm-crypto verifies`, () => {
      for (let i = 0; i < ROUNDS; i++) {
        const data = randomBytes(1 + i * 37);
        const sig = sm2Sign(data, key, { id }).toString('hex');
        expect(ref2.doVerifySignature([...data], sig, key.publicKey, { der: true, hash: true, userId: id })).toBe(true);
        expect(ref2.doVerifySignature([...data], sig, key.publicKey, { der: true, hash: true, userId: `${id}x` })).toBe(false);
      }
    });
  }
});

describe('SM2 encryption (C1C3C2), both ways', () => {
  it('sm-crypto encrypts a data key, we decrypt', () => {
    for (let i = 0; i < ROUNDS; i++) {
      const dataKey = randomBytes(48);
      const c1c3c2 = Buffer.from(`04${ref2.doEncrypt([...dataKey], key.publicKey, 1)}`, 'hex');
      expect(sm2Decrypt(derFromC1C3C2(c1c3c2)!, key).equals(dataKey)).toBe(true);
    }
  });

  it('we encrypt, sm-crypto decrypts', () => {
    for (let i = 0; i < ROUNDS; i++) {
      const dataKey = randomBytes(48);
      const raw = c1c3c2FromDer(sm2Encrypt(dataKey, key.publicKey))!;
      expect(Buffer.from(ref2.doDecrypt(raw.subarray(1).toString('hex'), key.privateKey, 1, { output: 'array' })).equals(dataKey)).toBe(true);
    }
  });
});

describe('SM3, HMAC-SM3 and SM4-CTR', () => {
  it('SM3 and HMAC-SM3 agree with sm-crypto\'s', () => {
    for (const len of [0, 1, 55, 56, 64, 1000]) {
      const data = randomBytes(len);
      const k = randomBytes(32);
      expect(sm3(data).toString('hex')).toBe(ref3([...data]));
      expect(hmacSm3(k, data).toString('hex')).toBe(ref3([...data], { key: [...k] }));
    }
  });

  it('a sealed blob opens with sm-crypto: CTR from its SM4 block cipher, the tag from its HMAC-SM3', () => {
    const dataKey = randomBytes(48);
    const plain = randomBytes(1000);
    const sealed = sm4CtrHmacSeal(dataKey, plain);
    const iv = sealed.subarray(0, SM4_IV_BYTES);
    const c = sealed.subarray(SM4_IV_BYTES, sealed.length - GM_TAG_BYTES);
    const tag = sealed.subarray(sealed.length - GM_TAG_BYTES);
    expect(ref3([...iv, ...c], { key: [...dataKey.subarray(16)] })).toBe(tag.toString('hex'));
    const out = Buffer.alloc(c.length);
    let counter = BigInt(`0x${iv.toString('hex')}`);
    for (let off = 0; off < c.length; off += 16, counter = (counter + 1n) % (1n << 128n)) {
      const block = Buffer.from(counter.toString(16).padStart(32, '0'), 'hex');
      const ks = ref4.encrypt([...block], [...dataKey.subarray(0, 16)], { padding: 'none', output: 'array' });
      for (let i = 0; i < 16 && off + i < c.length; i++) out[off + i] = c[off + i]! ^ ks[i]!;
    }
    expect(out.equals(plain)).toBe(true);
  });
});
