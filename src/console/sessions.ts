/**
 * Console logins, kept in memory: a random 32-byte id in an HttpOnly/Secure/SameSite=Strict cookie, expiring on
 * the server after `idleMs` without a request and `maxMs` after login; a page refreshing itself does not restart the
 * idle time; changing or resetting a password ends the account's other logins. fastify has no store with these rules,
 * so this one stays; cookies and CSRF are the web stack's (src/web/app.ts: CSRF tokens are bound to the login id).
 * A restart of the service ends every login, which also keeps per-request writes out of the evidence database.
 * The table is capped: a flood of logins cannot grow memory without bound.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from './accounts.js';

export const SESSION_COOKIE = '__Host-recgw';
export const CSRF_COOKIE = '__Host-recgw-csrf';
const MAX_LOGINS = 200;

export interface Login {
  id: string;
  user: string;
  role: Role;
  createdMs: number;
  lastMs: number;
}

const newToken = (): string => randomBytes(32).toString('base64url');

export class ConsoleSessions {
  private readonly logins = new Map<string, Login>();

  constructor(
    private readonly o: { idleMs: number; maxMs: number; now: () => number },
  ) {}

  create(user: string, role: Role): Login {
    this.sweep();
    if (this.logins.size >= MAX_LOGINS) this.logins.delete(this.logins.keys().next().value!);
    const t = this.o.now();
    const l: Login = { id: newToken(), user, role, createdMs: t, lastMs: t };
    this.logins.set(l.id, l);
    return l;
  }

  /**
   * The live login for a cookie value; expired ones are removed. `touch` restarts its idle time: a page refreshing
   * itself does not (else a browser left open on the overview would stay logged in for ever).
   */
  get(id: string | undefined, touch = true): Login | undefined {
    if (!id) return undefined;
    const l = this.logins.get(id);
    if (!l) return undefined;
    const t = this.o.now();
    if (t - l.lastMs > this.o.idleMs || t - l.createdMs > this.o.maxMs) {
      this.logins.delete(id);
      return undefined;
    }
    if (touch) l.lastMs = t;
    return l;
  }

  end(id: string | undefined): void {
    if (id) this.logins.delete(id);
  }

  /** End every login of an account (disabled, or its password changed elsewhere). */
  endUser(user: string, except?: string): void {
    for (const [id, l] of this.logins) if (l.user === user && id !== except) this.logins.delete(id);
  }

  sweep(): void {
    const t = this.o.now();
    for (const [id, l] of this.logins) if (t - l.lastMs > this.o.idleMs || t - l.createdMs > this.o.maxMs) this.logins.delete(id);
  }

  clear(): void {
    this.logins.clear();
  }
}
