/**
 * Slow hashes of secrets people type (console passwords, officers' PINs) with scrypt (node:crypto) and a random salt
 * per secret. The parameters are stored with each hash (`scrypt$15$8$1$salt$hash`), so they can be raised later
 * without breaking existing hashes. scrypt runs on libuv's thread pool: a check never blocks the event loop the
 * recorder also runs on. node:crypto's scrypt is the maintained implementation here (no argon2 package is installed).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** N = 2^15, r = 8: 32 MiB and about 0.1 s per hash here, several times that on a Raspberry Pi 4. */
export const SCRYPT_DEFAULT = { logN: 15, r: 8, p: 1 };
const KEY_LEN = 32;
/** The stored form: scrypt, log2 N, r, p, salt and key (base64), joined by `$`. */
export const SCRYPT_HASH = /^scrypt\$[0-9]{1,2}\$[0-9]{1,2}\$[0-9]{1,2}\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

function derive(secret: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const opts: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(secret.normalize('NFC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashSecret(secret: string, params = SCRYPT_DEFAULT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(secret, salt, params.logN, params.r, params.p);
  return ['scrypt', params.logN, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Whether `secret` matches `stored`; false (never a throw) for a malformed stored value. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![logN, r, p].every((x) => Number.isInteger(x) && x > 0) || logN > 20) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const want = Buffer.from(parts[5]!, 'base64');
  const got = await derive(secret, salt, logN, r, p);
  return want.length === got.length && timingSafeEqual(want, got);
}
