/**
 * SM2 public-key encryption (GB/T 32918.4) for wrapping data keys for the agency's SM2 encryption key. The curve
 * arithmetic and KDF are sm-crypto-v2's (npm; why that library: sm2-sign.ts): Node 20 has no SM2 encryption, and
 * the openssl command line would cost a process per segment.
 *
 * Two forms of one ciphertext:
 * - C1 || C3 || C2, the order of GB/T 32918.4-2016: C1 = 04 || x1 || y1 (65 bytes), C3 = SM3(x2 || M || y2)
 *   (32 bytes), C2 = M xor KDF(x2 || y2) (as long as M);
 * - DER, GM/T 0009-2012 §7.2: SEQUENCE { x1 INTEGER, y1 INTEGER, C3 OCTET STRING, C2 OCTET STRING }, which is what
 *   `openssl pkeyutl -encrypt` writes and `-decrypt` reads for an SM2 key (OpenSSL 3.0), so recgw stores this form.
 * sm2Encrypt and sm2Decrypt speak DER; derFromC1C3C2 and c1c3c2FromDer convert for software that wants the raw form
 * (sm-crypto's cipherMode 1 writes C1C3C2 in hex without the leading 04).
 */
import { sm2 } from 'sm-crypto-v2';
import { RecgwError } from '../../util/errors.js';
import { decodeDerSequence, derInteger, derOctets, encodeDerSequence } from './der.js';
import type { Sm2KeyPair } from './sm2-keys.js';
import { isSm2Point, sm2Point } from './sm2-point-cache.js';

const C1_BYTES = 65;
const C3_BYTES = 32;
/** The field prime p of the SM2 curve (GB/T 32918.5): C1's coordinates lie below it. */
const SM2_P = BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF');

/** Encrypt for an SM2 public key (uncompressed hex): the DER SM2Cipher. */
export function sm2Encrypt(plain: Uint8Array, publicKeyHex: string): Buffer {
  if (plain.length === 0) throw new RangeError('SM2 encryption of nothing');
  const raw = sm2.doEncrypt(plain, sm2Point(publicKeyHex), 1);
  const der = derFromC1C3C2(Buffer.from(`04${raw}`, 'hex'));
  if (!der) throw new Error('sm-crypto-v2 returned a malformed SM2 ciphertext');
  return der;
}

/** Decrypt a DER SM2Cipher; throws a RecgwError ('invalid') for any ciphertext not made for this key. */
export function sm2Decrypt(der: Uint8Array, key: Sm2KeyPair): Buffer {
  const raw = c1c3c2FromDer(der);
  if (!raw) throw decryptError('it is not a DER SM2 ciphertext (GM/T 0009 SM2Cipher) with a point on the curve');
  let out: Uint8Array | unknown[];
  try {
    out = sm2.doDecrypt(raw.subarray(1).toString('hex'), key.privateKey, 1, { output: 'array' });
  } catch (err) {
    throw decryptError('C1 is not a point on the SM2 curve', err);
  }
  // sm-crypto-v2 returns an empty array when C3 does not match; C2 is never empty here.
  if (out.length !== raw.length - C1_BYTES - C3_BYTES) throw decryptError('C3 does not match (wrong key or altered ciphertext)');
  return Buffer.from(out as Uint8Array);
}

/** C1 || C3 || C2 (C1 uncompressed, 04 || x || y) as DER; null if it is not that shape. */
export function derFromC1C3C2(raw: Uint8Array): Buffer | null {
  if (raw.length <= C1_BYTES + C3_BYTES || raw[0] !== 0x04) return null;
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return encodeDerSequence([
    derInteger(BigInt(`0x${b.subarray(1, 33).toString('hex')}`)),
    derInteger(BigInt(`0x${b.subarray(33, C1_BYTES).toString('hex')}`)),
    derOctets(b.subarray(C1_BYTES, C1_BYTES + C3_BYTES)),
    derOctets(b.subarray(C1_BYTES + C3_BYTES)),
  ]);
}

/** The DER SM2Cipher as C1 || C3 || C2; null unless it is strict DER with C1 on the curve, a 32-byte C3 and some C2. */
export function c1c3c2FromDer(der: Uint8Array): Buffer | null {
  const items = decodeDerSequence(der, ['int', 'int', 'octets', 'octets']);
  if (!items) return null;
  const [x, y] = [items[0]!.value as bigint, items[1]!.value as bigint];
  const [c3, c2] = [items[2]!.value as Buffer, items[3]!.value as Buffer];
  if (x >= SM2_P || y >= SM2_P || c3.length !== C3_BYTES || c2.length === 0) return null;
  const c1 = `04${x.toString(16).padStart(64, '0')}${y.toString(16).padStart(64, '0')}`;
  if (!isSm2Point(c1)) return null;
  return Buffer.concat([Buffer.from(c1, 'hex'), c3, c2]);
}

function decryptError(why: string, cause?: unknown): RecgwError {
  return new RecgwError('invalid', `the SM2 ciphertext cannot be decrypted with this key: ${why}`, cause === undefined ? undefined : { cause });
}
