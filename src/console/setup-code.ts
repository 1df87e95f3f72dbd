/**
 * The first-run setup code: while no console account exists, creating the admin needs a one-time code the gateway
 * writes to <stateDir>/console/setup-code (mode 0600), readable only by someone with a shell on the gateway. So
 * whoever reaches a fresh gateway's console first on the LAN cannot make themselves its admin. The code is never
 * logged; the file is removed once the admin exists.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../util/fsx.js';

/** Digits only, grouped for reading aloud: 4-4-4 (about 40 bits, and guesses are throttled). */
export function newCode(): string {
  const d = Array.from({ length: 12 }, () => randomInt(10)).join('');
  return `${d.slice(0, 4)}-${d.slice(4, 8)}-${d.slice(8)}`;
}

export const digest = (s: string): Buffer => createHash('sha256').update(s.replace(/[\s-]/g, '')).digest();

export class SetupCode {
  readonly file: string;
  private code: string | undefined;

  constructor(consoleDir: string) {
    this.file = join(consoleDir, 'setup-code');
  }

  /** Make sure a code exists (kept across restarts until setup is done). */
  ensure(): void {
    if (existsSync(this.file)) {
      this.code = readFileSync(this.file, 'utf8').trim();
      if (this.code) return;
    }
    this.code = newCode();
    writeFileAtomicSync(this.file, this.code + '\n', 0o600);
  }

  check(code: string): boolean {
    if (!this.code || !code) return false;
    return timingSafeEqual(digest(code), digest(this.code));
  }

  done(): void {
    this.code = undefined;
    rmSync(this.file, { force: true });
  }
}
