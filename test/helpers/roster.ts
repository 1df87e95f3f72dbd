/** Officer rosters for tests: made and signed the way `recgw ca roster` does, with a cheaper scrypt (2^10, not 2^15). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRosterKey } from '../../src/pki/ca.js';
import { makeRosterFile, type OfficerInput } from '../../src/officers/make-roster.js';
import { encodeRosterFile, type RosterFile } from '../../src/officers/roster.js';
import type { Signer } from '../../src/evidence/signer.js';

export const ZHANG = { name: '张三', badge: '13010001', pin: '480913' };
export const LI = { name: '李四', badge: '13010002', pin: '572046' };
export const WANG = { name: '王五', badge: '13010003', pin: '693158' };
export const OFFICERS: OfficerInput[] = [ZHANG, LI, WANG];
/** Cheap enough for tests; the format stores the parameters, so the gateway checks these as it checks 2^15. */
export const TEST_SCRYPT = { logN: 10, r: 8, p: 1 };

export async function makeRoster(
  caDir: string,
  o: { officers?: OfficerInput[]; from?: Date; days?: number; now?: Date; signer?: Signer } = {},
): Promise<RosterFile> {
  const now = o.now ?? new Date();
  const from = o.from ?? new Date(now.getTime() - 60_000);
  return makeRosterFile({
    officers: o.officers ?? OFFICERS,
    agency: 'recgw demo agency',
    notBefore: from,
    notAfter: new Date(from.getTime() + (o.days ?? 30) * 86_400_000),
    signer: o.signer ?? ensureRosterKey(caDir),
    now,
    hashParams: TEST_SCRYPT,
  });
}

/** Write a roster file into `dir` and return its path. */
export function writeRoster(dir: string, f: RosterFile, name = 'roster.json'): string {
  const p = join(dir, name);
  writeFileSync(p, encodeRosterFile(f));
  return p;
}
