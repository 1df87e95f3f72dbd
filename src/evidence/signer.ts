/**
 * Who signs ledger entries. A role interface so the key can live in a file today and in a TPM or secure
 * element later without the ledger knowing.
 */
import { sign as cryptoSign, verify as cryptoVerify, createPublicKey, type KeyObject } from 'node:crypto';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';

export interface Signer {
  /** The PEM certificate that vouches for this signer's key. */
  readonly certificatePem: string;
  /**
   * Sign bytes: RSASSA-PKCS1-v1_5 with SHA-256 for RSA keys, ECDSA (DER) with SHA-256 for EC keys, and for SM2 keys
   * SM2 over SM3 with the default ID (the gm suite, evidence-format.md §17.1).
   */
  sign(data: Uint8Array): Buffer;
  /** `gm` for an SM2 key, else `intl`. */
  readonly suite?: 'intl' | 'gm';
}

export class KeySigner implements Signer {
  readonly suite: 'intl' | 'gm';

  constructor(
    private readonly key: KeyObject,
    readonly certificatePem: string,
  ) {
    // node:crypto would sign 'sha256' with an SM2 key as plain ECDSA, which no SM2 verifier accepts.
    this.suite = isSm2Key(key) ? 'gm' : 'intl';
  }

  sign(data: Uint8Array): Buffer {
    return this.suite === 'gm' ? gmSuite.sign(data, this.key) : cryptoSign('sha256', data, this.key);
  }
}

/**
 * Verify a signature made by a Signer: with an SM2 key as the gm suite does, else with SHA-256. Never throws: a
 * malformed key or signature is just "not valid".
 */
export function verifySignature(data: Uint8Array, sig: Uint8Array, key: KeyObject | string): boolean {
  try {
    const pub = typeof key === 'string' ? createPublicKey(key) : key;
    if (isSm2Key(pub)) return gmSuite.verify(data, sig, pub);
    return cryptoVerify('sha256', data, pub, sig);
  } catch {
    return false;
  }
}
