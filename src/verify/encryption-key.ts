/**
 * Which key the data keys are wrapped for, checked without the agency's private key (docs/evidence-format.md §5.4,
 * §10): the encryption certificate in force is the one of the last encryption.installed entry before a manifest; it
 * must pass the agency encryption certificate checks (chain to the CA, role recgw-encryption, valid at its entry's
 * time, RSA of 2048 bits or more or SM2), and the manifest's `enc.agencyKeyId` must be its key ID. Given agency keys
 * (`--agency-key`, one or more: an RSA one for intl devices, an SM2 one for gm devices), the manifest must also name
 * one of them: only then is the content decrypted, with that key.
 */
import type { KeyObject } from 'node:crypto';
import type { LedgerEntry } from '../evidence/entry.js';
import type { SegmentManifest } from '../evidence/types.js';
import { keysById } from '../evidence/segment-scheme.js';
import { checkEncryptionCert } from '../pki/encryption-cert.js';
import type { FindingKind } from './findings.js';

type Report = (kind: FindingKind, detail: string) => void;

interface InForce {
  lineNo: number;
  /** The certificate's key ID when it passed every check; undefined when it did not. */
  keyId: string | undefined;
}

export class EncryptionKeyCheck {
  private inForce: InForce | undefined;
  /** The keys given, by key ID. */
  private readonly given: Map<string, KeyObject>;

  constructor(
    private readonly caPems: string[],
    agencyKeys: KeyObject[],
    private readonly report: Report,
  ) {
    this.given = keysById(agencyKeys);
  }

  /** An encryption.installed entry (any body: its form is checked here). */
  installed(lineNo: number, e: LedgerEntry): void {
    const cert = e.body.cert;
    if (typeof cert !== 'string' || !cert.includes('BEGIN CERTIFICATE')) {
      // Like a certificate entry without a certificate: malformed, and the certificate in force does not change.
      this.report('malformed', `line ${lineNo}: encryption.installed: cert is missing or has the wrong type`);
      return;
    }
    const c = checkEncryptionCert(cert, this.caPems, new Date(e.time));
    for (const i of c.ok ? [] : c.issues) this.report('untrusted-certificate', `line ${lineNo}: the agency encryption certificate is not trusted: ${i.problem.en}`);
    this.inForce = { lineNo, keyId: c.ok ? c.cert.keyId : undefined };
  }

  /** A well-formed manifest: its data key must be wrapped for the certificate in force (and the key given). */
  manifest(lineNo: number, m: SegmentManifest): void {
    const id = m.enc.agencyKeyId;
    const what = `line ${lineNo}: segment ${m.segment} has its data key wrapped for key ${id}`;
    const f = this.inForce;
    if (!f) this.report('wrong-encryption-key', `${what}, but no encryption.installed entry before it names the agency encryption certificate`);
    else if (f.keyId === undefined) this.report('wrong-encryption-key', `${what}, but the encryption certificate in force (line ${f.lineNo}) is not a trusted agency encryption certificate`);
    else if (f.keyId !== id) this.report('wrong-encryption-key', `${what}, not for the key of the agency encryption certificate in force (line ${f.lineNo}, key ${f.keyId})`);
    if (this.given.size > 0 && !this.given.has(id)) {
      this.report('wrong-encryption-key', `${what}, not for the agency key given (${[...this.given.keys()].join(', ')}); its content was not decrypted`);
    }
  }

  /** The agency key to decrypt this manifest's file with: the one given that the manifest names. */
  keyFor(m: SegmentManifest): KeyObject | undefined {
    return this.given.get(m.enc.agencyKeyId);
  }
}
