/**
 * Who signs ledger entries. A role interface so the key can live in a file today and in a TPM or secure
 * element later without the ledger knowing.
 */
import { sign as cryptoSign, verify as cryptoVerify, createPublicKey, type KeyObject } from 'node:crypto';

export interface Signer {
  /** The PEM certificate that vouches for this signer's key. */
  readonly certificatePem: string;
  /** Sign bytes: RSASSA-PKCS1-v1_5 with SHA-256 for RSA keys, ECDSA (DER) with SHA-256 for EC keys. */
  sign(data: Uint8Array): Buffer;
}

export class KeySigner implements Signer {
  constructor(
    private readonly key: KeyObject,
    readonly certificatePem: string,
  ) {}

  sign(data: Uint8Array): Buffer {
    return cryptoSign('sha256', data, this.key);
  }
}

/** Verify a signature made by a Signer. Never throws: a malformed key or signature is just "not valid". */
export function verifySignature(data: Uint8Array, sig: Uint8Array, key: KeyObject | string): boolean {
  try {
    const pub = typeof key === 'string' ? createPublicKey(key) : key;
    return cryptoVerify('sha256', data, pub, sig);
  } catch {
    return false;
  }
}
