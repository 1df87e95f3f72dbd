/**
 * The desk's accounts and sign-in sessions, in the index database (schema step "desk accounts and sessions").
 * Passwords are hashed as the console hashes them (scrypt). A session is a random token in an HttpOnly cookie; the
 * database keeps only its SHA-256 and its expiry, which the server checks on every request (the cookie's own
 * lifetime is never trusted): idle for IDLE_MS, or older than MAX_MS, and it is gone.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import { hashPassword, passwordProblem, verifyPassword } from '../console/passwords.js';
import { RecgwError } from '../util/errors.js';
import type { Role } from './roles.js';

export const IDLE_MS = 30 * 60_000;
export const MAX_MS = 12 * 3600_000;
/** Idle expiry is written back at most this often, not on every page. */
const TOUCH_MS = 60_000;

/** Letters (Chinese names too), digits and . _ -, 2 to 32 of them. */
export const ACCOUNT_NAME = /^[\p{L}\p{N}._-]{2,32}$/u;

export interface Account {
  name: string;
  role: Role;
}

const sha256 = (t: string): string => createHash('sha256').update(t).digest('hex');

/** Hashed once, checked against when the name is unknown, so an unknown name costs what a wrong password does. */
let decoy: Promise<string> | undefined;

export class DeskAccounts {
  constructor(private readonly db: Queryable) {}

  /** Make an account; refuses a bad name, a weak password, or a name already taken. */
  async add(name: string, role: Role, password: string, now = Date.now()): Promise<void> {
    if (!ACCOUNT_NAME.test(name)) throw new RecgwError('usage', `the account name ${JSON.stringify(name)} is not 2–32 letters, digits or . _ -: choose another`);
    const problem = passwordProblem(password, name);
    if (problem === 'password.short') throw new RecgwError('usage', 'the password is shorter than 10 characters: choose a longer one');
    if (problem === 'password.long') throw new RecgwError('usage', 'the password is longer than 256 characters: choose a shorter one');
    if (problem === 'password.name') throw new RecgwError('usage', 'the password contains the account name: choose another');
    const hash = await hashPassword(password);
    const rows = await this.db.query('INSERT INTO desk_accounts (name, role, password_hash, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name', [
      name,
      role,
      hash,
      now,
    ]);
    if (rows.length === 0) throw new RecgwError('usage', `there is already a desk account ${JSON.stringify(name)}: choose another name`);
  }

  /** The account when name and password match an enabled account, else undefined (same cost either way). */
  async check(name: string, password: string): Promise<Account | undefined> {
    const [row] = await this.db.query<{ role: Role; password_hash: string; disabled: number }>('SELECT role, password_hash, disabled FROM desk_accounts WHERE name = $1', [name]);
    if (!row) {
      decoy ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await decoy);
      return undefined;
    }
    const ok = await verifyPassword(password, row.password_hash);
    return ok && Number(row.disabled) === 0 ? { name, role: row.role } : undefined;
  }

  /** A new session for the account: the token for its cookie. */
  async openSession(name: string, now = Date.now()): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.db.query('DELETE FROM desk_sessions WHERE expires_ms <= $1', [now]);
    await this.db.query('INSERT INTO desk_sessions (token_sha256, name, created_ms, expires_ms) VALUES ($1, $2, $3, $4)', [sha256(token), name, now, now + IDLE_MS]);
    return token;
  }

  /** The account a cookie's token signs in, when its session has not expired; moves the idle expiry on. */
  async session(token: string, now = Date.now()): Promise<Account | undefined> {
    const key = sha256(token);
    const [row] = await this.db.query<{ name: string; role: Role; created_ms: number | string; expires_ms: number | string; disabled: number }>(
      `SELECT s.name, a.role, s.created_ms, s.expires_ms, a.disabled FROM desk_sessions s JOIN desk_accounts a ON a.name = s.name WHERE s.token_sha256 = $1`,
      [key],
    );
    if (!row) return undefined;
    const created = Number(row.created_ms);
    const expires = Number(row.expires_ms);
    if (expires <= now || created + MAX_MS <= now || Number(row.disabled) !== 0) {
      await this.closeSession(token);
      return undefined;
    }
    const next = Math.min(now + IDLE_MS, created + MAX_MS);
    if (next - expires >= TOUCH_MS) await this.db.query('UPDATE desk_sessions SET expires_ms = $1 WHERE token_sha256 = $2', [next, key]);
    return { name: row.name, role: row.role };
  }

  async closeSession(token: string): Promise<void> {
    await this.db.query('DELETE FROM desk_sessions WHERE token_sha256 = $1', [sha256(token)]);
  }
}
