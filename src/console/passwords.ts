/**
 * Password hashing with scrypt (node:crypto) and a random salt per user. The parameters are stored with each hash
 * (`scrypt$15$8$1$salt$hash`), so they can be raised later without breaking existing accounts. scrypt runs on
 * libuv's thread pool: a login never blocks the event loop the recorder also runs on.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** N = 2^15, r = 8: 32 MiB and about 0.1 s per hash here, several times that on a Raspberry Pi 4. */
const DEFAULT = { logN: 15, r: 8, p: 1 };
const KEY_LEN = 32;
export const MIN_PASSWORD = 10;
/** scrypt's cost does not depend on the length, but a megabyte "password" is not one. */
export const MAX_PASSWORD = 256;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const opts: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string, params = DEFAULT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params.logN, params.r, params.p);
  return ['scrypt', params.logN, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Whether `password` matches `stored`; false (never a throw) for a malformed stored value. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![logN, r, p].every((x) => Number.isInteger(x) && x > 0) || logN > 20) return false;
  const salt = Buffer.from(parts[4]!, 'base64');
  const want = Buffer.from(parts[5]!, 'base64');
  const got = await derive(password, salt, logN, r, p);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Why a new password is not acceptable (a dictionary key), or undefined. */
export function passwordProblem(password: string, name: string): 'password.short' | 'password.long' | 'password.name' | undefined {
  if ([...password].length < MIN_PASSWORD) return 'password.short';
  if (password.length > MAX_PASSWORD) return 'password.long';
  if (password.toLowerCase().includes(name.toLowerCase())) return 'password.name';
  return undefined;
}
