/**
 * SM3 (GB/T 32905) and HMAC-SM3, from node:crypto: no library, because Node 20's OpenSSL 3 has SM3 itself (at the
 * speed of `openssl dgst -sm3`, bench/gm.bench.js) and the same code is what the openssl recipes in the docs run.
 */
import { createHash, createHmac, getHashes, type Hash, type Hmac } from 'node:crypto';

export const SM3_BYTES = 32;

if (!getHashes().includes('sm3')) {
  throw new Error('this Node.js is built without SM3 (OpenSSL 3 has it): the gm suite cannot run here');
}

export function createSm3(): Hash {
  return createHash('sm3');
}

export function sm3(...parts: (Uint8Array | string)[]): Buffer {
  const h = createHash('sm3');
  for (const p of parts) h.update(p);
  return h.digest();
}

export function createHmacSm3(key: Uint8Array): Hmac {
  return createHmac('sm3', key);
}

export function hmacSm3(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sm3', key);
  for (const p of parts) h.update(p);
  return h.digest();
}
