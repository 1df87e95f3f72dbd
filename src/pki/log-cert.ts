/**
 * The agency log's certificates (role recgw-log, CN = the log's origin) as the receiver and the verifier judge them:
 * issued by the agency CA for that role, valid at the given time, naming a usable origin. The Ed25519 one signs the
 * checkpoints; a gm CA's log has an SM2 one beside it for their second signature (evidence-format.md §17.9).
 */
import type { KeyObject } from 'node:crypto';
import { checkCertificate, parseCertificate, subjectField } from './certs.js';
import { ROLE_LOG } from './roles.js';
import { isSm2Certificate } from './sm2-cert.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { isKeyName } from '../tlog/note.js';

export interface LogCertificate {
  origin: string;
  key: KeyObject;
  /** Whether a gm CA signed it (SM2-with-SM3): the log's checkpoints then carry an SM2 line too. */
  gm: boolean;
}

/** A log certificate of the given key type checked against the CA, or why it is not one. */
export function checkLogCertificate(pem: string, caPems: string[], o: { at: Date; keyType: 'ed25519' | 'sm2' }): LogCertificate | { why: string } {
  const x = parseCertificate(pem);
  const problems = checkCertificate(pem, caPems, { at: o.at, role: ROLE_LOG });
  if (!x || problems.length > 0) return { why: `not a log certificate from the agency CA: ${problems.map((p) => p.detail).join('; ') || 'unparseable'}` };
  const sm2 = isSm2Key(x.publicKey);
  if (o.keyType === 'sm2' ? !sm2 : x.publicKey.asymmetricKeyType !== 'ed25519') return { why: `its key is not ${o.keyType === 'sm2' ? 'an SM2' : 'an Ed25519'} key` };
  const origin = subjectField(x, 'CN') ?? '';
  if (!isKeyName(origin)) return { why: `it names origin ${JSON.stringify(origin)}, which is not a log name (no spaces or +)` };
  return { origin, key: x.publicKey, gm: isSm2Certificate(x) };
}
