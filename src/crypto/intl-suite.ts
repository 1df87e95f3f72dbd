/** The `intl` suite (suite.ts): SHA-256, RSA or ECDSA with SHA-256, AES-256-GCM, RSA-OAEP-256, all node:crypto. */
import {
  constants, createCipheriv, createDecipheriv, createHash, createPublicKey, generateKeyPairSync, privateDecrypt,
  publicEncrypt, randomBytes, sign, verify, type KeyObject,
} from 'node:crypto';
import { RecgwError } from '../util/errors.js';
import type { Suite } from './suite.js';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

/**
 * The keys this suite takes: RSA for signing and wrapping, EC on curves other than SM2 for signing. An EC key on the
 * SM2 curve would make Node sign plain ECDSA with it, which no SM2 verifier accepts (MACHINE.md), and an SM2 key
 * read from openssl's PEM is a key type Node does not name at all (asymmetricKeyType undefined): both belong to the
 * gm suite.
 */
function intlKey(key: KeyObject, use: 'sign' | 'wrap'): KeyObject {
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || (use === 'sign' && type === 'ec' && key.asymmetricKeyDetails?.namedCurve !== 'SM2')) return key;
  const what = type === 'ec' ? `an EC key on curve ${key.asymmetricKeyDetails?.namedCurve}` : type ? `an ${type} key` : 'a key of a type Node does not name (SM2?)';
  throw new RecgwError('identity', `${what} cannot ${use} under the intl suite (RSA${use === 'sign' ? ' or ECDSA' : ''} only); SM2 keys belong to the gm suite`);
}

export const intlSuite: Suite = {
  name: 'intl',
  algs: { hash: 'SHA-256', signature: 'RSA-or-ECDSA-SHA256', seal: 'A256GCM', keyWrap: 'RSA-OAEP-256' },
  hashBytes: 32,
  dataKeyBytes: KEY_BYTES,

  hash(...parts) {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest();
  },
  createHash: () => createHash('sha256'),

  sign(data, privateKey, opts) {
    if (opts?.id !== undefined) throw new RangeError('intl signatures have no signer ID');
    return sign('sha256', data, intlKey(privateKey, 'sign'));
  },
  verify(data, signature, publicKey, opts) {
    if (opts?.id !== undefined) return false;
    try {
      return verify('sha256', data, intlKey(typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey, 'sign'), signature);
    } catch {
      return false;
    }
  },

  newDataKey: () => randomBytes(KEY_BYTES),
  seal(dataKey, plain) {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', dataKey, iv);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([iv, body, c.getAuthTag()]);
  },
  open(dataKey, sealed) {
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new RecgwError('invalid', 'the sealed data is shorter than its IV and GCM tag');
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const d = createDecipheriv('aes-256-gcm', dataKey, b.subarray(0, IV_BYTES));
    d.setAuthTag(b.subarray(b.length - TAG_BYTES));
    const out = d.update(b.subarray(IV_BYTES, b.length - TAG_BYTES));
    try {
      return Buffer.concat([out, d.final()]);
    } catch {
      throw new RecgwError('invalid', 'the GCM authentication tag does not match: the sealed data, its IV or the key is not the one sealed');
    }
  },

  wrapKey(dataKey, publicKey) {
    return publicEncrypt({ key: intlKey(publicKey, 'wrap'), ...OAEP }, dataKey);
  },
  unwrapKey(wrapped, privateKey) {
    const rsa = intlKey(privateKey, 'wrap');
    let key: Buffer;
    try {
      key = privateDecrypt({ key: rsa, ...OAEP }, wrapped);
    } catch (err) {
      throw new RecgwError('invalid', 'the data key cannot be unwrapped with this key (wrong key or altered wrapping)', { cause: err });
    }
    if (key.length !== KEY_BYTES) throw new RecgwError('invalid', `the unwrapped data key is ${key.length} bytes, not ${KEY_BYTES}`);
    return key;
  },

  generateKeyPair() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    return {
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    };
  },
};
