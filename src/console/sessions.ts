/**
 * Console logins, kept in memory: a random 32-byte id in an HttpOnly/Secure/SameSite=Strict cookie, expiring on
 * the server after `idleMs` without a request and `maxMs` after login. Each carries its own CSRF token (the
 * synchronizer token every POST must send back). A restart of the service ends every login, which also keeps
 * per-request writes out of the evidence database.
 *
 * Before login, the login and first-run pages get a short-lived pre-login token of their own, so those POSTs
 * are CSRF-protected too. Both tables are capped: a flood of page loads cannot grow memory without bound.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from './accounts.js';

export const SESSION_COOKIE = '__Host-recgw';
export const PRE_COOKIE = '__Host-recgw-pre';
const PRE_MS = 15 * 60_000;
const MAX_LOGINS = 200;
const MAX_PRE = 2000;

export interface Login {
  id: string;
  user: string;
  role: Role;
  csrf: string;
  createdMs: number;
  lastMs: number;
}

export const newToken = (): string => randomBytes(32).toString('base64url');

export class ConsoleSessions {
  private readonly logins = new Map<string, Login>();
  private readonly pre = new Map<string, { csrf: string; createdMs: number }>();

  constructor(
    private readonly o: { idleMs: number; maxMs: number; now: () => number },
  ) {}

  create(user: string, role: Role): Login {
    this.sweep();
    if (this.logins.size >= MAX_LOGINS) this.logins.delete(this.logins.keys().next().value!);
    const t = this.o.now();
    const l: Login = { id: newToken(), user, role, csrf: newToken(), createdMs: t, lastMs: t };
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

  /** The pre-login token for a cookie value, or a new one (then `fresh`, and its cookie must be set). */
  preLogin(id: string | undefined): { id: string; csrf: string; fresh: boolean } {
    const t = this.o.now();
    const p = id ? this.pre.get(id) : undefined;
    if (id && p && t - p.createdMs <= PRE_MS) return { id, csrf: p.csrf, fresh: false };
    if (this.pre.size >= MAX_PRE) {
      this.sweep();
      if (this.pre.size >= MAX_PRE) this.pre.delete(this.pre.keys().next().value!);
    }
    const fresh = { id: newToken(), csrf: newToken(), createdMs: t };
    this.pre.set(fresh.id, fresh);
    return { id: fresh.id, csrf: fresh.csrf, fresh: true };
  }

  /** The CSRF token of a live pre-login id, without making one. */
  preCsrf(id: string | undefined): string | undefined {
    const p = id ? this.pre.get(id) : undefined;
    return p && this.o.now() - p.createdMs <= PRE_MS ? p.csrf : undefined;
  }

  endPre(id: string | undefined): void {
    if (id) this.pre.delete(id);
  }

  sweep(): void {
    const t = this.o.now();
    for (const [id, l] of this.logins) if (t - l.lastMs > this.o.idleMs || t - l.createdMs > this.o.maxMs) this.logins.delete(id);
    for (const [id, p] of this.pre) if (t - p.createdMs > PRE_MS) this.pre.delete(id);
  }

  clear(): void {
    this.logins.clear();
    this.pre.clear();
  }
}
