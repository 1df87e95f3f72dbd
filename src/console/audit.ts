/**
 * The console's ledger entries, in one place so their bodies stay as docs/console.md describes them. Password
 * material never goes in; a name typed at the login is kept short and printable.
 */
import { ENTRY } from '../evidence/types.js';
import type { ConfigChange, LedgerAccess } from './deps.js';
import { shortValue } from '../config/diff.js';
import { typed } from '../util/typed.js';


/** A value as it was when short (types kept), else its JSON cut short. */
const short = (v: unknown): unknown => (JSON.stringify(v).length <= 200 ? v : shortValue(v, 200));

export type LoginFailure = 'unknown-user' | 'bad-password' | 'disabled' | 'throttled' | 'bad-setup-code' | 'reset-none' | 'reset-expired' | 'reset-bad-code';

export class Audit {
  constructor(private readonly ledger: LedgerAccess) {}

  login(user: string, role: string, ip: string): void {
    this.ledger.append(ENTRY.consoleLogin, { user, role, ip });
  }

  loginFailed(user: string, ip: string, reason: LoginFailure, lockedSeconds: number): void {
    this.ledger.append(ENTRY.consoleLoginFailed, { user: typed(user), ip, reason, ...(lockedSeconds > 0 ? { lockedSeconds } : {}) });
  }

  /** A config file change: each key with its old and new value (shortened) and whether it needs a restart. */
  configChanged(user: string, file: string, sha256: string, changes: ConfigChange[]): void {
    this.ledger.append(ENTRY.configChanged, {
      via: 'console',
      user,
      what: 'config',
      file,
      sha256,
      changes: changes.slice(0, 100).map((c) => ({
        key: c.key,
        ...(c.from !== undefined ? { from: short(c.from) } : {}),
        ...(c.to !== undefined ? { to: short(c.to) } : {}),
        restart: c.restart,
      })),
      ...(changes.length > 100 ? { more: changes.length - 100 } : {}),
      restartNeeded: changes.some((c) => c.restart),
    });
  }

  certificateInstalled(user: string, cert: { subject: string; serial: string; validTo: string; fingerprint256: string }): void {
    this.ledger.append(ENTRY.configChanged, { via: 'console', user, what: 'certificate', ...cert, restartNeeded: true });
  }

  account(user: string, action: 'created' | 'disabled' | 'enabled' | 'password-changed' | 'password-reset', account: string, role?: string): void {
    this.ledger.append(ENTRY.configChanged, { via: 'console', user, what: 'account', action, account, ...(role ? { role } : {}) });
  }
}
