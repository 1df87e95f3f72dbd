/**
 * SM2 signatures (GB/T 32918.2) over SM3 with the signer's ID, as openssl makes and checks them with
 * `pkeyutl -sign|-verify -rawin -digest sm3 -pkeyopt distid:ID`. The curve arithmetic is sm-crypto-v2's (npm, MIT,
 * pure JavaScript on @noble/curves): Node 20 has no SM2 signature at all (crypto.sign('sm3') with an SM2-curve key is
 * plain ECDSA, without Z, and openssl refuses it), and the other way, the openssl command line, costs a process per
 * signature. sm-crypto-v2 was chosen over sm-crypto (0.3, the older jsbn code) for speed (bench/gm.bench.js) and is
 * checked against openssl and against sm-crypto in the tests.
 *
 * What is ours, not the library's: Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) and e = SM3(Z_A || M)
 * with Node's native SM3 (the library's getZ takes the ID only as a UTF-8 string and hashes M in JavaScript), the
 * DER encoding and its strict reading (der.ts), and the range checks 1 <= r, s <= n-1 before any arithmetic.
 * The library is used only for k·G, s = (1+d)^-1 (k - r·d) and the check point s·G + t·P.
 * Its BigInt arithmetic is not guaranteed constant-time; signing keys live on the gateway, where no one else times
 * its signatures to the microsecond.
 */
import { sm2 } from 'sm-crypto-v2';
import { decodeDerSequence, derInteger, encodeDerSequence } from './der.js';
import { sm3 } from './sm3.js';
import { SM2_N, type Sm2KeyPair } from './sm2-keys.js';
import { sm2Point } from './sm2-point-cache.js';

/** The default signer ID of GM/T 0009-2012 §10 (and of openssl, sm-crypto and most 国密 software). */
export const SM2_DEFAULT_ID = '1234567812345678';
/** ENTL is the ID's length in bits in two bytes. */
const MAX_ID_BYTES = 8191;

/** A signer ID: a string is its UTF-8 bytes (openssl's `distid:`), bytes as they are (openssl's `hexdistid:`). */
export type Sm2Id = string | Uint8Array;

export interface Sm2SignOptions {
  /** The signer's ID (default 1234567812345678). */
  id?: Sm2Id;
}

const CURVE_PARAMS = Buffer.from(
  'fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc' + // a
  '28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93' + // b
  '32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7' + // xG
  'bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0', // yG
  'hex',
);

function idBytes(id: Sm2Id | undefined): Buffer {
  const b = id === undefined ? Buffer.from(SM2_DEFAULT_ID) : typeof id === 'string' ? Buffer.from(id, 'utf8') : Buffer.from(id);
  if (b.length === 0 || b.length > MAX_ID_BYTES) throw new RangeError(`an SM2 signer ID is 1 to ${MAX_ID_BYTES} bytes`);
  return b;
}

/** Z_A of GB/T 32918.2 §5.5 for a public key (uncompressed hex, 04 || x || y). */
export function sm2Z(publicKeyHex: string, id?: Sm2Id): Buffer {
  if (!/^04[0-9a-fA-F]{128}$/.test(publicKeyHex)) throw new RangeError('the public key is not an uncompressed point in hex');
  const ident = idBytes(id);
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(ident.length * 8);
  return sm3(entl, ident, CURVE_PARAMS, Buffer.from(publicKeyHex.slice(2), 'hex'));
}

/** e = SM3(Z_A || M), the number the signature is over. */
export function sm2Digest(data: Uint8Array, publicKeyHex: string, id?: Sm2Id): Buffer {
  return sm3(sm2Z(publicKeyHex, id), data);
}

const hex32 = (v: bigint): string => v.toString(16).padStart(64, '0');

/** Sign `data`: DER SEQUENCE { r, s } as openssl writes it. */
export function sm2Sign(data: Uint8Array, key: Sm2KeyPair, opts: Sm2SignOptions = {}): Buffer {
  const e = sm2Digest(data, key.publicKey, opts.id);
  const rs = sm2.doSignature(e, key.privateKey, { hash: false, der: false });
  return encodeDerSequence([derInteger(BigInt(`0x${rs.slice(0, 64)}`)), derInteger(BigInt(`0x${rs.slice(64)}`))]);
}

/** r and s of a DER signature, or null if it is not strict DER or either lies outside [1, n-1]. */
export function decodeSm2Signature(sig: Uint8Array): { r: bigint; s: bigint } | null {
  const items = decodeDerSequence(sig, ['int', 'int']);
  if (!items) return null;
  const [r, s] = items.map((i) => i.value as bigint) as [bigint, bigint];
  return r >= 1n && r < SM2_N && s >= 1n && s < SM2_N ? { r, s } : null;
}

/**
 * What the curve check of a signature needs, computed here with native SM3 and strict DER: e = SM3(Z_A || M) and
 * r || s (64 bytes); null when the signature is not strict DER in range or the key or ID is malformed. The
 * verifier hands these to its worker threads (src/verify/check-pool.ts), which do only the curve arithmetic.
 */
export function sm2CheckInput(data: Uint8Array, sig: Uint8Array, publicKeyHex: string, opts: Sm2SignOptions = {}): { e: Buffer; rs: Buffer } | null {
  try {
    const rs = decodeSm2Signature(sig);
    if (!rs) return null;
    return { e: sm2Digest(data, publicKeyHex, opts.id), rs: Buffer.from(hex32(rs.r) + hex32(rs.s), 'hex') };
  } catch {
    return null;
  }
}

/** Verify a DER signature. Never throws: a malformed key, ID or signature is just "not valid". */
export function sm2Verify(data: Uint8Array, sig: Uint8Array, publicKeyHex: string, opts: Sm2SignOptions = {}): boolean {
  try {
    const input = sm2CheckInput(data, sig, publicKeyHex, opts);
    return input !== null && sm2.doVerifySignature(input.e, input.rs.toString('hex'), sm2Point(publicKeyHex), { hash: false, der: false });
  } catch {
    return false;
  }
}
