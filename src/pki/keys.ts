/** Key material on disk: generated with node:crypto (fast), stored as PEM, private keys 0600 and never logged. */
import { generateKeyPairSync, createPublicKey, createPrivateKey, createHash, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomicSync } from '../util/fsx.js';
import { RecgwError, isENOENT } from '../util/errors.js';

export interface PemKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateRsaKeyPair(bits = 2048): PemKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

export function writePrivateKey(path: string, pem: string): void {
  writeFileAtomicSync(path, pem, 0o600);
}

/** Read a PEM file, turning a missing file into an error that names it and what it is for. */
export function readPem(path: string, what: string, hint: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('identity', `${what} not found at ${path}: ${hint}`, { cause: err });
    throw new RecgwError('identity', `cannot read ${what} at ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function loadPrivateKey(path: string, what: string, hint: string): KeyObject {
  const pem = readPem(path, what, hint);
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new RecgwError('identity', `${what} at ${path} is readable by others (mode ${mode.toString(8)}): run chmod 600 ${path}`);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new RecgwError('identity', `${what} at ${path} is not a valid private key PEM`, { cause: err });
  }
}

/** Key identifier used in manifests and receipts: hex SHA-256 of the DER SubjectPublicKeyInfo. */
export function publicKeyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * Whether two keys are one, by their SPKI bytes: KeyObject.equals on keys of two kinds (SM2 and P-256) leaves an
 * OpenSSL error queued ("different key types") that the next createPrivateKey then reports as its own.
 */
export function sameSpki(a: KeyObject | undefined, b: KeyObject): boolean {
  const der = (k: KeyObject): Buffer => (k.type === 'private' ? createPublicKey(k) : k).export({ format: 'der', type: 'spki' });
  return a !== undefined && der(a).equals(der(b));
}
