/**
 * Authenticated encryption for the gm suite: SM4 (GB/T 32907) in CTR mode, then HMAC-SM3 over the IV and the
 * ciphertext (encrypt-then-MAC). No library: Node 20's OpenSSL 3 has sm4-ctr and SM3, and OpenSSL 3.0 has no SM4-GCM
 * or SM4-CCM (3.2 adds GCM), so a standard mode plus a standard MAC is what both recgw and the openssl command line
 * can do. GB/T 17964 names CTR; HMAC is GB/T 15852.2 / ISO/IEC 9797-2 with SM3 (GB/T 39786 accepts HMAC-SM3 for
 * integrity).
 *
 * Keys: the data key is 48 random bytes, split, not derived: K_enc = bytes 0-15 (the SM4 key), K_mac = bytes
 * 16-47 (the HMAC-SM3 key, as long as SM3's output, RFC 2104 §3). A fresh random data key per blob makes the halves
 * independent already, so a KDF would add nothing but a step the openssl recipe (docs/evidence-format.md, "The gm
 * suite") would have to repeat; with a split, `openssl enc -sm4-ctr -K` and `openssl mac -macopt hexkey:` take the
 * halves as they are.
 *
 * Layout of a sealed blob: IV (16 bytes, random; the initial counter block, incremented as one 128-bit big-endian
 * number, as OpenSSL does) || C (as long as the plaintext) || T (32 bytes), T = HMAC-SM3(K_mac, IV || C). The tag
 * covers the IV because in CTR a changed IV would decrypt to other plaintext. Opening checks T (in constant time)
 * before decrypting anything.
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual, type Cipher, type Decipher, type Hmac } from 'node:crypto';
import { RecgwError } from '../../util/errors.js';
import { createHmacSm3, SM3_BYTES } from './sm3.js';

export const SM4_KEY_BYTES = 16;
export const GM_MAC_KEY_BYTES = SM3_BYTES;
export const GM_DATA_KEY_BYTES = SM4_KEY_BYTES + GM_MAC_KEY_BYTES;
export const SM4_IV_BYTES = 16;
export const GM_TAG_BYTES = SM3_BYTES;

/** K_enc and K_mac of a 48-byte data key. */
export function splitDataKey(dataKey: Uint8Array): { encKey: Buffer; macKey: Buffer } {
  if (dataKey.length !== GM_DATA_KEY_BYTES) {
    throw new RecgwError('invalid', `an SM4-CTR/HMAC-SM3 data key is ${GM_DATA_KEY_BYTES} bytes, not ${dataKey.length}`);
  }
  const k = Buffer.from(dataKey.buffer, dataKey.byteOffset, dataKey.byteLength);
  return { encKey: k.subarray(0, SM4_KEY_BYTES), macKey: k.subarray(SM4_KEY_BYTES) };
}

function checkIv(iv: Uint8Array): void {
  if (iv.length !== SM4_IV_BYTES) throw new RecgwError('invalid', `an SM4-CTR IV is ${SM4_IV_BYTES} bytes, not ${iv.length}`);
}

/** Streaming sealing: update() returns ciphertext, final() the tag. The caller stores IV || C || T. */
export class Sm4CtrHmacSealer {
  readonly iv: Buffer;
  private readonly cipher: Cipher;
  private readonly mac: Hmac;

  constructor(dataKey: Uint8Array, iv: Uint8Array = randomBytes(SM4_IV_BYTES)) {
    checkIv(iv);
    const { encKey, macKey } = splitDataKey(dataKey);
    this.iv = Buffer.from(iv);
    this.cipher = createCipheriv('sm4-ctr', encKey, this.iv);
    this.mac = createHmacSm3(macKey).update(this.iv);
  }

  update(plain: Uint8Array): Buffer {
    const c = this.cipher.update(plain);
    this.mac.update(c);
    return c;
  }

  /** The tag T over IV || everything update() returned. */
  final(): Buffer {
    const rest = this.cipher.final();
    if (rest.length !== 0) throw new Error('SM4-CTR gave bytes at the end of the stream');
    return this.mac.digest();
  }
}

/**
 * Streaming opening for data too large to hold: update() returns plaintext that is NOT yet authenticated, final()
 * throws unless the tag matches. A caller must not act on the plaintext before final() returned (write it to a
 * temporary place and discard it on failure), as with AES-GCM's decipher in seal.ts today.
 */
export class Sm4CtrHmacOpener {
  private readonly decipher: Decipher;
  private readonly mac: Hmac;

  constructor(dataKey: Uint8Array, iv: Uint8Array) {
    checkIv(iv);
    const { encKey, macKey } = splitDataKey(dataKey);
    this.decipher = createDecipheriv('sm4-ctr', encKey, iv);
    this.mac = createHmacSm3(macKey).update(iv);
  }

  update(ciphertext: Uint8Array): Buffer {
    this.mac.update(ciphertext);
    return this.decipher.update(ciphertext);
  }

  final(tag: Uint8Array): void {
    this.decipher.final();
    if (!tagsEqual(this.mac.digest(), tag)) throw tagError();
  }
}

/** Seal a whole buffer: IV || C || T under a fresh random IV. */
export function sm4CtrHmacSeal(dataKey: Uint8Array, plain: Uint8Array): Buffer {
  const s = new Sm4CtrHmacSealer(dataKey);
  const c = s.update(plain);
  return Buffer.concat([s.iv, c, s.final()]);
}

/** Open IV || C || T: the tag is checked first; throws a RecgwError ('invalid') if it does not match. */
export function sm4CtrHmacOpen(dataKey: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < SM4_IV_BYTES + GM_TAG_BYTES) {
    throw new RecgwError('invalid', 'the sealed data is shorter than its IV and HMAC-SM3 tag');
  }
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const iv = b.subarray(0, SM4_IV_BYTES);
  const c = b.subarray(SM4_IV_BYTES, b.length - GM_TAG_BYTES);
  const tag = b.subarray(b.length - GM_TAG_BYTES);
  const { encKey, macKey } = splitDataKey(dataKey);
  if (!tagsEqual(createHmacSm3(macKey).update(iv).update(c).digest(), tag)) throw tagError();
  const d = createDecipheriv('sm4-ctr', encKey, iv);
  return Buffer.concat([d.update(c), d.final()]);
}

function tagsEqual(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got);
}

function tagError(): RecgwError {
  return new RecgwError('invalid', 'the HMAC-SM3 tag does not match: the sealed data, its IV or the key is not the one sealed');
}
