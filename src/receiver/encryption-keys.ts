/**
 * The receiver holds every gateway to the agency's current encryption keys (its config's `agency.encryptionCerts`,
 * checked at start): an encryption.installed entry must carry one of those certificates, and a segment.sealed
 * manifest's `enc.agencyKeyId` must name one of their keys. Otherwise a gateway (or whoever holds its device key)
 * could wrap data keys for a key of its own and read the recordings back while the agency stores files it cannot
 * open. A refused line stops the device's ledger there, like every other refusal in ledger-ingest.
 */
import { readFileSync } from 'node:fs';
import type { LedgerEntry } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { parseCertificate } from '../pki/certs.js';
import { checkEncryptionCert, issuesText, type EncryptionCert } from '../pki/encryption-cert.js';
import { RecgwError, describe } from '../util/errors.js';

export class CurrentEncryptionKeys {
  private constructor(private readonly certs: EncryptionCert[]) {}

  /** Read and check each configured certificate at `at`; a config error (exit 2) names the file and the fix. */
  static load(paths: string[], caPems: string[], at: Date): CurrentEncryptionKeys {
    const certs = paths.map((path) => {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        throw new RecgwError('config', `agency.encryptionCerts: cannot read ${path} (${describe(err)}): list the agency's current encryption certificates (agency-enc.pem)`, { cause: err });
      }
      const c = checkEncryptionCert(text, caPems, at);
      if (!c.ok) throw new RecgwError('config', `agency.encryptionCerts: ${path} is refused: ${issuesText(c.issues)}`);
      return c.cert;
    });
    return new CurrentEncryptionKeys(certs);
  }

  get keyIds(): string[] {
    return this.certs.map((c) => c.keyId);
  }

  /** Why this (otherwise valid) entry must be refused, or undefined. Other entry types pass. */
  problem(e: LedgerEntry): string | undefined {
    if (e.type === ENTRY.encryptionInstalled) {
      const x = typeof e.body.cert === 'string' ? parseCertificate(e.body.cert) : undefined;
      if (!x) return 'its encryption.installed entry carries no readable certificate';
      if (this.certs.some((c) => c.x509.raw.equals(x.raw))) return undefined;
      return `it installs an encryption certificate (${x.subject.replace(/\n/g, ', ')}, serial ${x.serialNumber}) that is not one of the agency's current encryption certificates: the gateway must be given the agency's agency-enc.pem`;
    }
    if (e.type === ENTRY.segmentSealed) {
      const id = (e.body.enc as { agencyKeyId?: unknown } | undefined)?.agencyKeyId;
      if (typeof id === 'string' && this.keyIds.includes(id)) return undefined;
      return `segment ${String(e.body.segment)} has its data key wrapped for key ${typeof id === 'string' ? id : '(none)'}, which is not a current agency encryption key (${this.keyIds.join(', ')}): the agency could not open it, and whoever holds that key could`;
    }
    return undefined;
  }
}
