/**
 * How a sealed segment file is made in each algorithm suite (evidence-format.md §7.2 intl, §17.7 gm): the hash of
 * the plaintext and the stored file, the streaming cipher and its tag, the key wrapping and the key ID. The file is
 * ciphertext || tag in both, with the IV in the manifest, so that sealing, the workers, the verifier and the
 * receiver handle both with one code path:
 *   intl: SHA-256; AES-256-GCM, 12-byte IV, 16-byte tag; RSA-OAEP-256; key ID SHA-256 of the SPKI DER;
 *   gm:   SM3; SM4-CTR + HMAC-SM3 over IV || C (encrypt-then-MAC), 16-byte IV, 32-byte tag; SM2 encryption; key ID
 *         SM3 of the SPKI DER.
 * A manifest names its hashes by algorithm (`sha256` or `sm3`): a member called sha256 never holds an SM3 value.
 */
import { createCipheriv, createDecipheriv, createHash, createPublicKey, type Hash, type KeyObject } from 'node:crypto';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { GM_TAG_BYTES, SM4_IV_BYTES, Sm4CtrHmacOpener, Sm4CtrHmacSealer } from '../crypto/gm/sm4-ctr-hmac.js';
import { intlSuite } from '../crypto/intl-suite.js';
import type { Suite, SuiteName } from '../crypto/suite.js';
import { RecgwError } from '../util/errors.js';
import type { HashedSize, SegmentEncryption } from './types.js';

/** Encrypts a stream: update() gives ciphertext, final() the tag (what follows the ciphertext in the file). */
export interface SegmentCipher {
  update(plain: Uint8Array): Buffer;
  final(): Buffer;
}

/** Decrypts a stream; the plaintext is not authenticated until final(tag) returned (it throws on a bad tag). */
export interface SegmentDecipher {
  update(ciphertext: Uint8Array): Buffer;
  final(tag: Uint8Array): void;
}

export interface SegmentScheme {
  readonly suite: Suite;
  /** node:crypto's name of the hash, and the manifest's member for it. */
  readonly hash: 'sha256' | 'sm3';
  readonly alg: SegmentEncryption['alg'];
  readonly keyWrap: SegmentEncryption['keyWrap'];
  readonly ivBytes: number;
  readonly tagBytes: number;
  cipher(dataKey: Uint8Array, iv: Uint8Array): SegmentCipher;
  decipher(dataKey: Uint8Array, iv: Uint8Array): SegmentDecipher;
}

const intl: SegmentScheme = {
  suite: intlSuite,
  hash: 'sha256',
  alg: 'A256GCM',
  keyWrap: 'RSA-OAEP-256',
  ivBytes: 12,
  tagBytes: 16,
  cipher(dataKey, iv) {
    const c = createCipheriv('aes-256-gcm', dataKey, iv);
    return {
      update: (p) => c.update(p),
      final() {
        if (c.final().length !== 0) throw new Error('AES-256-GCM gave bytes at the end of the stream');
        return c.getAuthTag();
      },
    };
  },
  decipher(dataKey, iv) {
    const d = createDecipheriv('aes-256-gcm', dataKey, iv);
    return {
      update: (c) => d.update(c),
      final(tag) {
        d.setAuthTag(tag);
        try {
          d.final();
        } catch {
          throw new RecgwError('invalid', 'the GCM authentication tag does not match: the sealed file was altered');
        }
      },
    };
  },
};

const gm: SegmentScheme = {
  suite: gmSuite,
  hash: 'sm3',
  alg: 'SM4-CTR-HMAC-SM3',
  keyWrap: 'SM2-ENC',
  ivBytes: SM4_IV_BYTES,
  tagBytes: GM_TAG_BYTES,
  cipher: (dataKey, iv) => new Sm4CtrHmacSealer(dataKey, iv),
  decipher: (dataKey, iv) => new Sm4CtrHmacOpener(dataKey, iv),
};

const SCHEMES: Record<SuiteName, SegmentScheme> = { intl, gm };

export const segmentScheme = (suite: SuiteName): SegmentScheme => SCHEMES[suite];

/** The scheme of an agency encryption key: SM2 wraps under gm, RSA under intl. */
export const schemeForKey = (key: KeyObject): SegmentScheme => (isSm2Key(key) ? gm : intl);

/** The scheme a manifest's `enc.alg` names, or undefined for an algorithm this recgw does not know. */
export const schemeOfEnc = (enc: { alg?: unknown }): SegmentScheme | undefined => [intl, gm].find((s) => s.alg === enc.alg);

export const createSegmentHash = (s: SegmentScheme): Hash => createHash(s.hash);

/** A size and hash as a manifest writes them: `{size, sha256}` or `{size, sm3}`. */
export const hashedSize = (s: SegmentScheme, size: number, hex: string): HashedSize => (s.hash === 'sm3' ? { size, sm3: hex } : { size, sha256: hex });

/** The hex hash of a manifest's `plain` or `stored`, whichever algorithm it names. */
export const hashHex = (h: HashedSize): string => ('sm3' in h ? h.sm3 : h.sha256);

/** The algorithm's name for messages: SHA-256 or SM3. */
export const hashName = (h: HashedSize | SegmentScheme): string => (('hash' in h ? h.hash : 'sm3' in h ? 'sm3' : 'sha256') === 'sm3' ? 'SM3' : 'SHA-256');

/**
 * `enc.agencyKeyId` of an agency encryption key: the hash, in the key's own suite, of its DER SubjectPublicKeyInfo
 * (SHA-256 for RSA, SM3 for SM2).
 */
export function encryptionKeyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return schemeForKey(pub).suite.hash(pub.export({ type: 'spki', format: 'der' })).toString('hex');
}

/** Agency keys by their key ID, to open each manifest with the key its `enc.agencyKeyId` names (a store may hold both suites). */
export const keysById = (keys: KeyObject[]): Map<string, KeyObject> => new Map(keys.map((k) => [encryptionKeyId(k), k]));
