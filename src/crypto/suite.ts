/**
 * An algorithm suite: the hash, signature, authenticated encryption and key wrapping one agency uses (issue 19).
 * `intl` is what recgw has always done (SHA-256, RSA or ECDSA with SHA-256, AES-256-GCM, RSA-OAEP-256); `gm` is the
 * Chinese commercial cryptography set (SM3, SM2 with the signer's ID, SM4-CTR with HMAC-SM3, SM2 encryption).
 * Records name their suite (`suite: "gm"`); a record without the name is `intl`, the only suite before there was a
 * choice. The evidence code takes a Suite instead of calling node:crypto itself; nothing here reads files.
 */
import type { Hash, KeyObject } from 'node:crypto';
import { RecgwError } from '../util/errors.js';

export const SUITE_NAMES = ['intl', 'gm'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** The names of the algorithms, as records and the docs spell them. */
export interface SuiteAlgorithms {
  hash: 'SHA-256' | 'SM3';
  /** RS256/ES256-style (RSASSA-PKCS1-v1_5 or ECDSA, SHA-256), or SM2 over SM3 with Z from the signer's ID. */
  signature: 'RSA-or-ECDSA-SHA256' | 'SM2-SM3';
  /** Sealed blob IV || C || T: AES-256-GCM (12-byte IV, 16-byte tag) or SM4-CTR + HMAC-SM3 (16-byte IV, 32-byte tag). */
  seal: 'A256GCM' | 'SM4-CTR-HMAC-SM3';
  keyWrap: 'RSA-OAEP-256' | 'SM2-ENC';
}

export interface SuiteSignOptions {
  /** gm only: the signer's ID (default 1234567812345678). intl refuses an ID: its signatures have none. */
  id?: string | Uint8Array;
}

/** PEM key material, the private key PKCS#8 and the public key SPKI, as openssl reads and writes them. */
export interface SuiteKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface Suite {
  readonly name: SuiteName;
  readonly algs: SuiteAlgorithms;
  /** Bytes of a digest (32 for both). */
  readonly hashBytes: number;
  /** Bytes of a data key for seal(): 32 (AES-256) or 48 (SM4 key and HMAC-SM3 key). */
  readonly dataKeyBytes: number;

  hash(...parts: (Uint8Array | string)[]): Buffer;
  /** A streaming hash (node:crypto's Hash). */
  createHash(): Hash;

  /** Sign with the private key of this suite's kind; throws a RecgwError ('identity') for a key of another kind. */
  sign(data: Uint8Array, privateKey: KeyObject, opts?: SuiteSignOptions): Buffer;
  /** Never throws: a key of another kind, a malformed signature or a wrong ID is just "not valid". */
  verify(data: Uint8Array, signature: Uint8Array, publicKey: KeyObject | string, opts?: SuiteSignOptions): boolean;

  /** A fresh random data key. */
  newDataKey(): Buffer;
  /** IV || ciphertext || tag under a fresh IV. */
  seal(dataKey: Uint8Array, plain: Uint8Array): Buffer;
  /** The plaintext; throws a RecgwError ('invalid') unless the tag matches. */
  open(dataKey: Uint8Array, sealed: Uint8Array): Buffer;

  /** Wrap a data key for a recipient's public key. */
  wrapKey(dataKey: Uint8Array, publicKey: KeyObject): Buffer;
  /** Unwrap; throws a RecgwError ('invalid') for anything not wrapped for this key, or of the wrong length. */
  unwrapKey(wrapped: Uint8Array, privateKey: KeyObject): Buffer;

  /** A new key pair of this suite's kind (RSA-2048, or SM2). */
  generateKeyPair(): SuiteKeyPair;
}

export function isSuiteName(name: unknown): name is SuiteName {
  return typeof name === 'string' && (SUITE_NAMES as readonly string[]).includes(name);
}

/** The name a record carries, or `intl` for a record from before suites (no `suite` member). */
export function suiteNameOf(value: unknown): SuiteName {
  if (value === undefined) return 'intl';
  if (isSuiteName(value)) return value;
  throw new RecgwError('invalid', `unknown algorithm suite ${JSON.stringify(value)}: this recgw knows ${SUITE_NAMES.join(' and ')}`);
}
