/**
 * The `gm` suite (../suite.ts): SM3, SM2 signatures with the signer's ID, SM4-CTR + HMAC-SM3, SM2 encryption for
 * key wrapping. SM3 and SM4 are node:crypto's; SM2 is sm-crypto-v2's curve arithmetic (sm2-sign.ts says why). Keys
 * come as node:crypto KeyObjects, like the intl suite's, read once into the numbers the library takes.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { RecgwError } from '../../util/errors.js';
import type { Suite } from '../suite.js';
import { createSm3, sm3 } from './sm3.js';
import { GM_DATA_KEY_BYTES, sm4CtrHmacOpen, sm4CtrHmacSeal } from './sm4-ctr-hmac.js';
import { generateSm2KeyPair, sm2PrivateKeyFromPem, sm2PrivateKeyToPem, sm2PublicHex, sm2PublicKeyToPem, type Sm2KeyPair } from './sm2-keys.js';
import { sm2Sign, sm2Verify } from './sm2-sign.js';
import { sm2Decrypt, sm2Encrypt } from './sm2-encrypt.js';

// A KeyObject never changes: read each once (an export and a check of d·G or of the point).
const privateKeys = new WeakMap<KeyObject, Sm2KeyPair>();

function privateOf(key: KeyObject): Sm2KeyPair {
  let pair = privateKeys.get(key);
  if (!pair) privateKeys.set(key, (pair = sm2PrivateKeyFromPem(key)));
  return pair;
}

const publicOf = sm2PublicHex;

export const gmSuite: Suite = {
  name: 'gm',
  algs: { hash: 'SM3', signature: 'SM2-SM3', seal: 'SM4-CTR-HMAC-SM3', keyWrap: 'SM2-ENC' },
  hashBytes: 32,
  dataKeyBytes: GM_DATA_KEY_BYTES,

  hash: (...parts) => sm3(...parts),
  createHash: createSm3,

  sign(data, privateKey, opts) {
    return sm2Sign(data, privateOf(privateKey), opts);
  },
  verify(data, signature, publicKey, opts) {
    try {
      return sm2Verify(data, signature, publicOf(typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey), opts);
    } catch {
      return false;
    }
  },

  newDataKey: () => randomBytes(GM_DATA_KEY_BYTES),
  seal: sm4CtrHmacSeal,
  open: sm4CtrHmacOpen,

  wrapKey(dataKey, publicKey) {
    return sm2Encrypt(dataKey, publicOf(publicKey));
  },
  unwrapKey(wrapped, privateKey) {
    const key = sm2Decrypt(wrapped, privateOf(privateKey));
    if (key.length !== GM_DATA_KEY_BYTES) {
      key.fill(0);
      throw new RecgwError('invalid', `the unwrapped data key is ${key.length} bytes, not ${GM_DATA_KEY_BYTES}`);
    }
    return key;
  },

  generateKeyPair() {
    const pair = generateSm2KeyPair();
    return { privateKeyPem: sm2PrivateKeyToPem(pair), publicKeyPem: sm2PublicKeyToPem(pair.publicKey) };
  },
};
