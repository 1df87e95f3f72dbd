/**
 * The two algorithm suites through the Suite interface: what each makes opens and verifies, and what an attacker
 * changes (one bit of a sealed blob, a signature, the signer's ID, a wrapped key; a key of the other suite) is
 * refused. The gm primitives are checked against published vectors (gm-vectors), openssl (gm-openssl) and sm-crypto
 * (gm-sm-crypto); this file checks how they are put together.
 */
import { describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { suiteOf } from '../../src/crypto/suites.js';
import { SUITE_NAMES, suiteNameOf, type Suite } from '../../src/crypto/suite.js';
import { decodeDerSequence, derInteger, encodeDerSequence } from '../../src/crypto/gm/der.js';
import { GM_TAG_BYTES, SM4_IV_BYTES, Sm4CtrHmacOpener, Sm4CtrHmacSealer, sm4CtrHmacOpen, sm4CtrHmacSeal } from '../../src/crypto/gm/sm4-ctr-hmac.js';

function keysOf(suite: Suite): { priv: KeyObject; pub: KeyObject; pubPem: string } {
  const { privateKeyPem, publicKeyPem } = suite.generateKeyPair();
  return { priv: createPrivateKey(privateKeyPem), pub: createPublicKey(publicKeyPem), pubPem: publicKeyPem };
}

function flipped(b: Buffer, bit: number): Buffer {
  const c = Buffer.from(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

/** Bits to flip across a buffer: each of the first and last 64, and a spread in between. */
function someBits(len: number): number[] {
  const n = len * 8;
  const bits = new Set<number>();
  for (let i = 0; i < Math.min(64, n); i++) bits.add(i).add(n - 1 - i);
  for (let i = 0; i < 64; i++) bits.add(Math.floor((i * n) / 64));
  return [...bits];
}

describe.each(SUITE_NAMES.map((n) => [n]))('suite %s', (name) => {
  const suite = suiteOf(name);
  const a = keysOf(suite);
  const b = keysOf(suite);
  const data = randomBytes(1000);

  it('carries its name, and a record names it', () => {
    expect(suite.name).toBe(name);
    expect(suiteOf(suite.name)).toBe(suite);
    expect(suite.hash('abc')).toHaveLength(suite.hashBytes);
    expect(suite.createHash().update('a').update('bc').digest()).toEqual(suite.hash('abc'));
  });

  it('seal/open round trip, for empty and large data, under a fresh IV each time', () => {
    const key = suite.newDataKey();
    expect(key).toHaveLength(suite.dataKeyBytes);
    for (const plain of [Buffer.alloc(0), data, randomBytes(3 << 20)]) {
      const s1 = suite.seal(key, plain);
      expect(suite.open(key, s1).equals(plain)).toBe(true); // (toEqual compares a large Buffer byte by byte, slowly)
      expect(suite.seal(key, plain).equals(s1)).toBe(false);
    }
  });

  it('a sealed blob with any one bit flipped (IV, ciphertext or tag), cut short, or under another key is refused', () => {
    const key = suite.newDataKey();
    const sealed = suite.seal(key, data);
    for (const bit of someBits(sealed.length)) {
      expect(() => suite.open(key, flipped(sealed, bit)), `bit ${bit}`).toThrow(/tag does not match/);
    }
    expect(() => suite.open(key, sealed.subarray(0, sealed.length - 1))).toThrow();
    expect(() => suite.open(key, sealed.subarray(0, 20))).toThrow();
    expect(() => suite.open(suite.newDataKey(), sealed)).toThrow(/tag does not match/);
  });

  it('sign/verify, with the public key as KeyObject or PEM; another key or other data fails', () => {
    const sig = suite.sign(data, a.priv);
    expect(suite.verify(data, sig, a.pub)).toBe(true);
    expect(suite.verify(data, sig, a.pubPem)).toBe(true);
    expect(suite.verify(data, sig, b.pub)).toBe(false);
    expect(suite.verify(flipped(data, 3), sig, a.pub)).toBe(false);
  });

  it('a signature with any one bit flipped is refused, and so are garbage and empty signatures', () => {
    const sig = suite.sign(data, a.priv);
    for (const bit of someBits(sig.length)) expect(suite.verify(data, flipped(sig, bit), a.pub), `bit ${bit}`).toBe(false);
    expect(suite.verify(data, Buffer.alloc(0), a.pub)).toBe(false);
    expect(suite.verify(data, randomBytes(sig.length), a.pub)).toBe(false);
    expect(suite.verify(data, Buffer.concat([sig, Buffer.from([0])]), a.pub)).toBe(false);
  });

  it('wrap/unwrap; a wrapped key with a bit flipped, or unwrapped with another key, is refused', () => {
    const key = suite.newDataKey();
    const wrapped = suite.wrapKey(key, a.pub);
    expect(suite.unwrapKey(wrapped, a.priv)).toEqual(key);
    expect(() => suite.unwrapKey(wrapped, b.priv)).toThrow(/cannot be/);
    for (const bit of someBits(wrapped.length).filter((_, i) => i % 4 === 0)) {
      expect(() => suite.unwrapKey(flipped(wrapped, bit), a.priv), `bit ${bit}`).toThrow();
    }
  });

  it('refuses the other suite\'s keys', () => {
    const otherSuite = suiteOf(name === 'gm' ? 'intl' : 'gm');
    const other = keysOf(otherSuite);
    expect(() => suite.sign(data, other.priv)).toThrow();
    expect(suite.verify(data, otherSuite.sign(data, other.priv), other.pub)).toBe(false);
    expect(() => suite.wrapKey(suite.newDataKey(), other.pub)).toThrow();
  });
});

describe('the gm suite\'s signer ID', () => {
  const gm = suiteOf('gm');
  const { priv, pub } = keysOf(gm);
  const data = Buffer.from('entry');

  it('is part of what is signed: the default, another ID, the ID as bytes', () => {
    const byDefault = gm.sign(data, priv);
    expect(gm.verify(data, byDefault, pub, { id: '1234567812345678' })).toBe(true);
    expect(gm.verify(data, byDefault, pub, { id: '1234567812345679' })).toBe(false);
    const own = gm.sign(data, priv, { id: 'recgw-room-1@agency' });
    expect(gm.verify(data, own, pub, { id: Buffer.from('recgw-room-1@agency') })).toBe(true);
    expect(gm.verify(data, own, pub)).toBe(false);
    for (const bit of someBits(19)) {
      expect(gm.verify(data, own, pub, { id: flipped(Buffer.from('recgw-room-1@agency'), bit) })).toBe(false);
    }
    expect(gm.verify(data, own, pub, { id: '' })).toBe(false);
  });
});

describe('the intl suite and SM2 keys (the trap: Node signs ECDSA with them, which is not SM2)', () => {
  const intl = suiteOf('intl');
  const gm = suiteOf('gm');
  // Node's own SM2 key (type ec, curve SM2), and one read from PEM as openssl writes it (a type Node does not name).
  const generated = generateKeyPairSync('ec', { namedCurve: 'SM2' });
  const pem = gm.generateKeyPair();
  const fromPem = { privateKey: createPrivateKey(pem.privateKeyPem), publicKey: createPublicKey(pem.publicKeyPem) };

  it('refuses to sign, verify or wrap with either kind of SM2 key', () => {
    for (const { privateKey, publicKey } of [generated, fromPem]) {
      expect(() => intl.sign(Buffer.from('x'), privateKey)).toThrow(/gm suite/);
      expect(intl.verify(Buffer.from('x'), gm.sign(Buffer.from('x'), privateKey), publicKey)).toBe(false);
      expect(() => intl.wrapKey(intl.newDataKey(), publicKey)).toThrow(/gm suite/);
      expect(() => intl.unwrapKey(Buffer.alloc(256), privateKey)).toThrow(/gm suite/);
    }
  });

  it('signs with ECDSA keys on other curves, wraps only with RSA, and takes no signer ID', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(intl.verify(Buffer.from('x'), intl.sign(Buffer.from('x'), p256.privateKey), p256.publicKey)).toBe(true);
    expect(() => intl.wrapKey(intl.newDataKey(), p256.publicKey)).toThrow(/RSA only/);
    const rsa = keysOf(intl);
    expect(() => intl.sign(Buffer.from('x'), rsa.priv, { id: '1234567812345678' })).toThrow(/no signer ID/);
  });
});

describe('suite names in records', () => {
  it('a record without a name is intl; an unknown name is refused', () => {
    expect(suiteNameOf(undefined)).toBe('intl');
    expect(suiteOf('gm').name).toBe('gm');
    expect(() => suiteOf('GM')).toThrow(/unknown algorithm suite "GM"/);
    expect(() => suiteOf(null)).toThrow(/unknown algorithm suite/);
  });
});

describe('strict DER for SM2 signatures', () => {
  const gm = suiteOf('gm');
  const { priv, pub } = keysOf(gm);
  const data = Buffer.from('entry');
  const [r, s] = decodeDerSequence(gm.sign(data, priv), ['int', 'int'])!.map((i) => i.value as bigint) as [bigint, bigint];
  const n = BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123');

  const int = (content: Buffer): Buffer => Buffer.concat([Buffer.from([0x02, content.length]), content]);
  const seq = (...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  };
  const bytes32 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
  const minimal = (v: bigint): Buffer => (bytes32(v)[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), bytes32(v)]) : bytes32(v));

  it('the same r and s re-encoded verify; other encodings of them and out-of-range values do not', () => {
    expect(gm.verify(data, seq(int(minimal(r)), int(minimal(s))), pub)).toBe(true);
    // A needless leading zero byte (00 00 ... is never minimal):
    expect(gm.verify(data, seq(int(Buffer.concat([Buffer.alloc(2), bytes32(r)])), int(minimal(s))), pub)).toBe(false);
    expect(gm.verify(data, seq(int(minimal(r)), int(Buffer.concat([Buffer.alloc(2), bytes32(s)]))), pub)).toBe(false);
    // The SEQUENCE length in the long form (BER, not DER), and a byte after the SEQUENCE:
    const der = seq(int(minimal(r)), int(minimal(s)));
    expect(gm.verify(data, Buffer.concat([Buffer.from([0x30, 0x81, der[1]!]), der.subarray(2)]), pub)).toBe(false);
    expect(gm.verify(data, Buffer.concat([der, Buffer.alloc(1)]), pub)).toBe(false);
    // r + n and s + n are the same numbers mod n but not valid signature values; 0 is never one:
    expect(gm.verify(data, encodeDerSequence([derInteger(r + n), derInteger(s)]), pub)).toBe(false);
    expect(gm.verify(data, encodeDerSequence([derInteger(r), derInteger(s + n)]), pub)).toBe(false);
    expect(gm.verify(data, encodeDerSequence([derInteger(0n), derInteger(s)]), pub)).toBe(false);
  });
});

describe('SM4-CTR + HMAC-SM3 streaming (for segment files)', () => {
  const key = randomBytes(48);
  const plain = randomBytes(100_001);

  it('sealing in pieces gives the one-shot blob; opening in pieces gives the plaintext and checks the tag at the end', () => {
    const s = new Sm4CtrHmacSealer(key);
    const parts = [0, 1, 16, 17, 65_536, plain.length].map((end, i, a) => plain.subarray(a[i - 1] ?? 0, end));
    const c = Buffer.concat(parts.map((p) => s.update(p)));
    const blob = Buffer.concat([s.iv, c, s.final()]);
    expect(sm4CtrHmacOpen(key, blob).equals(plain)).toBe(true);
    const o = new Sm4CtrHmacOpener(key, s.iv);
    const out = Buffer.concat([o.update(c.subarray(0, 33)), o.update(c.subarray(33))]);
    expect(() => o.final(blob.subarray(blob.length - GM_TAG_BYTES))).not.toThrow();
    expect(out.equals(plain)).toBe(true);
  });

  it('the streaming opener refuses a flipped ciphertext bit or tag bit at final(), and keys or IVs of the wrong size at once', () => {
    const blob = sm4CtrHmacSeal(key, plain);
    const iv = blob.subarray(0, SM4_IV_BYTES);
    const c = blob.subarray(SM4_IV_BYTES, blob.length - GM_TAG_BYTES);
    const tag = blob.subarray(blob.length - GM_TAG_BYTES);
    const o1 = new Sm4CtrHmacOpener(key, iv);
    o1.update(flipped(c, 12345));
    expect(() => o1.final(tag)).toThrow(/tag does not match/);
    const o2 = new Sm4CtrHmacOpener(key, iv);
    o2.update(c);
    expect(() => o2.final(flipped(tag, 255))).toThrow(/tag does not match/);
    const o3 = new Sm4CtrHmacOpener(key, iv);
    o3.update(c);
    expect(() => o3.final(tag.subarray(0, 16))).toThrow(/tag does not match/);
    expect(() => new Sm4CtrHmacOpener(key.subarray(0, 32), iv)).toThrow(/48 bytes/);
    expect(() => new Sm4CtrHmacOpener(key, iv.subarray(0, 12))).toThrow(/16 bytes/);
  });
});
