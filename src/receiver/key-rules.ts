/**
 * What the receiver refuses about keys and time (evidence-format.md §5.5), before it stores an entry: a certificate
 * entry must be valid now, by the receiver's clock (a time the device cannot choose), and not revoked; no entry may be
 * signed by a key revoked before the ledger reached it; entry times may not run backwards beyond the tolerance except
 * at a clock.stepped entry. The verifier applies the same rules to what was stored (src/verify/key-lifecycle.ts).
 */
import type { LedgerEntry } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { checkCertificate } from '../pki/certs.js';
import { ROLE_DEVICE } from '../pki/ca.js';
import type { Revocations } from '../pki/crl.js';
import { olderThanInForce, revokedProblem, timeStep, type Clock } from '../verify/key-lifecycle.js';

export { startClock, type Clock } from '../verify/key-lifecycle.js';

/**
 * The key and time problem of the next entry, or undefined; moves `clock` on when there is none. `cert` is the
 * certificate in force after this entry (its own, for a certificate entry), `inForce` the one before it.
 */
export function keyProblem(
  e: LedgerEntry,
  cert: string | undefined,
  inForce: string | undefined,
  clock: Clock,
  o: { caPems: string[]; revocations: Revocations; now: Date },
): string | undefined {
  const next = { ...clock };
  const before = clock.max;
  const reversed = timeStep(next, e);
  if (reversed) return reversed;
  if (e.type === ENTRY.ledgerOpened || e.type === ENTRY.certificateInstalled) {
    const problems = checkCertificate(e.body.cert as string, o.caPems, { at: o.now, commonName: e.device, role: ROLE_DEVICE });
    if (problems.length > 0) return `the device certificate is not valid now, when the agency receives it: ${problems.map((p) => p.detail).join('; ')}`;
    const r = o.revocations.of(e.body.cert as string);
    if (r && r.date <= o.now) return `the device certificate it installs was revoked from ${r.date.toISOString()} (${r.reason})`;
    const older = olderThanInForce(e.body.cert as string, inForce);
    if (older) return older;
  }
  const revoked = revokedProblem(o.revocations, cert, Math.max(Date.parse(e.time), before));
  if (revoked) return `it is signed by a revoked key: ${revoked}`;
  clock.ref = next.ref;
  clock.max = next.max;
  return undefined;
}
