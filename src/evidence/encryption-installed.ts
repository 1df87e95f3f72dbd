/**
 * The ledger says which agency key the data keys are wrapped for: an encryption.installed entry carrying the agency
 * encryption certificate, written at the first start and whenever the gateway starts with another certificate,
 * always before any segment sealed for it. Anyone holding the agency CA certificate can then check every manifest's
 * `enc.agencyKeyId` against it, without the agency's private key (evidence-format.md §5.4, §10).
 */
import { prepared, type Db } from '../state/db.js';
import { parseCertificate } from '../pki/certs.js';
import type { EncryptionCert } from '../pki/encryption-cert.js';
import type { AppendedEntry, Ledger } from './ledger.js';
import { ENTRY } from './types.js';

/** The certificate of the ledger's last encryption.installed entry, if any. */
function lastInstalled(db: Db): string | undefined {
  const row = prepared(db, 'SELECT line FROM ledger WHERE type = ? ORDER BY seq DESC LIMIT 1').get(ENTRY.encryptionInstalled) as { line: string } | undefined;
  if (!row) return undefined;
  const cert = (JSON.parse(row.line) as { body: { cert?: unknown } }).body.cert;
  return typeof cert === 'string' ? cert : undefined;
}

/** Append encryption.installed unless the last one names this very certificate (compared as DER). Call before sealing. */
export function recordEncryptionCert(ledger: Ledger, db: Db, cert: EncryptionCert): AppendedEntry | undefined {
  const last = lastInstalled(db);
  const same = last !== undefined && parseCertificate(last)?.raw.equals(cert.x509.raw) === true;
  return same ? undefined : ledger.append(ENTRY.encryptionInstalled, { cert: cert.pem });
}
