/**
 * Console accounts in the state database (table console_users, migration 4). Two roles: technicians see
 * everything and run the self-test, the aiming aid and enrolment; admins also apply config changes and manage
 * accounts. An unknown name costs the same scrypt as a known one, so timing does not tell which names exist.
 */
import type { Db } from '../state/db.js';
import { hashPassword, verifyPassword } from './passwords.js';

export type Role = 'technician' | 'admin';
export const ROLES: readonly Role[] = ['technician', 'admin'];

/** Login names: short, ASCII, no spaces (they go into ledger entries and logs). */
export const NAME_RE = /^[a-z][a-z0-9._-]{1,31}$/;

export interface Account {
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string | null;
  disabled: boolean;
}

interface Row {
  name: string;
  role: Role;
  password: string;
  created_at: string;
  created_by: string | null;
  disabled: number;
}

const toAccount = (r: Row): Account => ({ name: r.name, role: r.role, createdAt: r.created_at, createdBy: r.created_by, disabled: r.disabled === 1 });

export type Verdict = { ok: true; account: Account } | { ok: false; reason: 'unknown-user' | 'bad-password' | 'disabled' };

export class AccountStore {
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM console_users').get() as { n: number }).n;
  }

  list(): Account[] {
    return (this.db.prepare('SELECT * FROM console_users ORDER BY name').all() as Row[]).map(toAccount);
  }

  get(name: string): Account | undefined {
    const r = this.db.prepare('SELECT * FROM console_users WHERE name = ?').get(name) as Row | undefined;
    return r ? toAccount(r) : undefined;
  }

  /** Create an account; false when the name is taken. `onlyIfEmpty` makes the first-run admin race-free. */
  async create(a: { name: string; role: Role; password: string; createdBy: string | null }, onlyIfEmpty = false): Promise<boolean> {
    const hash = await hashPassword(a.password);
    return this.db.transaction(() => {
      if (onlyIfEmpty && this.count() > 0) return false;
      const r = this.db
        .prepare('INSERT OR IGNORE INTO console_users(name, role, password, created_at, created_by) VALUES (?, ?, ?, ?, ?)')
        .run(a.name, a.role, hash, new Date(this.now()).toISOString(), a.createdBy);
      return r.changes === 1;
    })();
  }

  async setPassword(name: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    this.db.prepare('UPDATE console_users SET password = ? WHERE name = ?').run(hash, name);
  }

  setDisabled(name: string, disabled: boolean): boolean {
    return this.db.prepare('UPDATE console_users SET disabled = ? WHERE name = ?').run(disabled ? 1 : 0, name).changes === 1;
  }

  async verify(name: string, password: string): Promise<Verdict> {
    const r = this.db.prepare('SELECT * FROM console_users WHERE name = ?').get(name) as Row | undefined;
    if (!r) {
      this.dummy ??= hashPassword('not a password of anybody');
      await verifyPassword(password, await this.dummy);
      return { ok: false, reason: 'unknown-user' };
    }
    if (!(await verifyPassword(password, r.password))) return { ok: false, reason: 'bad-password' };
    if (r.disabled === 1) return { ok: false, reason: 'disabled' };
    return { ok: true, account: toAccount(r) };
  }
}
