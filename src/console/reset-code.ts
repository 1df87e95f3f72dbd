/**
 * A lost console password: someone with a shell on the gateway (root, or the recgw user) runs
 * `recgw console reset-password`, which writes <stateDir>/console/reset-code (mode 0600: the account, the code's
 * SHA-256 and an expiry) and prints the code. The console's /reset page takes the code with a new password, once.
 * Only a hash is stored, so the file alone does not give the code away; the file is read at each attempt because
 * the command writes it while the gateway runs.
 */
import { timingSafeEqual } from 'node:crypto';
import { chownSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/fsx.js';
import { digest, newCode } from './setup-code.js';

export const RESET_MINUTES = 30;

interface ResetFile {
  account: string;
  sha256: string;
  expires: string;
}

export type ResetCheck = { ok: true; account: string } | { ok: false; reason: 'none' | 'expired' | 'bad-code' };

export const resetCodeFile = (consoleDir: string): string => join(consoleDir, 'reset-code');

/** Write a new code for `account` (replacing any earlier one) and return it; valid RESET_MINUTES. */
export function issueResetCode(consoleDir: string, account: string, nowMs: number): { code: string; expires: Date } {
  const code = newCode();
  const expires = new Date(nowMs + RESET_MINUTES * 60_000);
  const f: ResetFile = { account, sha256: digest(code).toString('hex'), expires: expires.toISOString() };
  const file = resetCodeFile(consoleDir);
  writeFileAtomicSync(file, JSON.stringify(f) + '\n', 0o600);
  // Made by root (sudo): the service's user, who owns the folder, must be able to read it.
  const owner = statSync(consoleDir);
  if (process.getuid?.() === 0 && owner.uid !== 0) chownSync(file, owner.uid, owner.gid);
  return { code, expires };
}

function readResetFile(consoleDir: string): ResetFile | undefined {
  try {
    const f = JSON.parse(readFileSync(resetCodeFile(consoleDir), 'utf8')) as Partial<ResetFile>;
    if (typeof f.account === 'string' && typeof f.sha256 === 'string' && /^[0-9a-f]{64}$/.test(f.sha256) && typeof f.expires === 'string') {
      return f as ResetFile;
    }
  } catch {
    // Missing or unreadable: as if no reset was asked for.
  }
  return undefined;
}

export function checkResetCode(consoleDir: string, code: string, nowMs: number): ResetCheck {
  const f = readResetFile(consoleDir);
  if (!f) return { ok: false, reason: 'none' };
  if (!(Date.parse(f.expires) > nowMs)) return { ok: false, reason: 'expired' };
  if (!code || !timingSafeEqual(digest(code), Buffer.from(f.sha256, 'hex'))) return { ok: false, reason: 'bad-code' };
  return { ok: true, account: f.account };
}

/** The code is used (or expired): it cannot serve twice. */
export function dropResetCode(consoleDir: string): void {
  rmSync(resetCodeFile(consoleDir), { force: true });
}
