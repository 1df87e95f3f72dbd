/**
 * Console passwords: hashed with scrypt (src/util/scrypt-hash.ts, shared with officers' PINs) and the rules a new
 * password must meet.
 */
export { hashSecret as hashPassword, verifySecret as verifyPassword } from '../util/scrypt-hash.js';

export const MIN_PASSWORD = 10;
/** scrypt's cost does not depend on the length, but a megabyte "password" is not one. */
export const MAX_PASSWORD = 256;

/** Why a new password is not acceptable (a dictionary key), or undefined. */
export function passwordProblem(password: string, name: string): 'password.short' | 'password.long' | 'password.name' | undefined {
  if ([...password].length < MIN_PASSWORD) return 'password.short';
  if (password.length > MAX_PASSWORD) return 'password.long';
  if (password.toLowerCase().includes(name.toLowerCase())) return 'password.name';
  return undefined;
}
