/**
 * Certificate checks shared by the gateway (may I record?), the verifier (may I trust this ledger?) and the
 * receiver (may I store this?). Uses node:crypto's X509Certificate; chains are CA -> [intermediates] -> leaf.
 * A certificate signed SM2-with-SM3 (a gm CA's, issue 19) is checked by the gm suite over its TBS bytes with the
 * signer ID 1234567812345678 (sm2-cert.ts): Node's X509Certificate.verify cannot check SM2 signatures with an ID.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { isSm2Certificate, sm2CertificateSignedBy } from './sm2-cert.js';
import { sameSpki } from './keys.js';

export type CertProblem =
  | { kind: 'unparseable'; detail: string }
  | { kind: 'not-yet-valid'; detail: string }
  | { kind: 'expired'; detail: string }
  | { kind: 'foreign'; detail: string }
  | { kind: 'wrong-subject'; detail: string }
  | { kind: 'wrong-role'; detail: string }
  | { kind: 'wrong-key'; detail: string };

export interface CertExpectations {
  /** Time at which the certificate must be valid. */
  at: Date;
  /** Required CN (device ID), if any. */
  commonName?: string;
  /** Required OU (role marker), if any. */
  role?: string;
  /** The public key the certificate must carry, if any. */
  publicKey?: KeyObject;
  /**
   * A TLS certificate, which a gm agency's transport CA may issue. Without it a chain that ends at a transport CA
   * (OU recgw-transport-only, evidence-format.md §17.8) is refused: that CA certifies TLS keys, never evidence, even
   * when its certificate is put among the agency CAs by mistake.
   */
  transport?: boolean;
}

/** The OU of a gm agency's transport CA certificate (transport-ca.ts makes it). */
export const ROLE_TRANSPORT_CA = 'recgw-transport-only';

/**
 * The same few certificates (the device's, the CA, the receipt certificate) are checked for every entry and
 * receipt; parsing one costs ~0.3 ms, so the last ones parsed are kept (an X509Certificate never changes).
 */
const parsed = new Map<string, X509Certificate | undefined>();
const PARSED_KEPT = 64;

export function parseCertificate(pem: string): X509Certificate | undefined {
  if (parsed.has(pem)) return parsed.get(pem);
  let c: X509Certificate | undefined;
  try {
    c = new X509Certificate(pem);
    // The public key is decoded lazily and can fail on its own (a damaged key inside a parseable certificate):
    // touch it here so callers never meet that exception later.
    void c.publicKey;
  } catch {
    c = undefined;
  }
  if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value!);
  parsed.set(pem, c);
  return c;
}

/** The value of one attribute (CN, OU, ...) of a subject DN as node prints it ("CN=x\nOU=y"). */
export function subjectField(cert: X509Certificate, field: string): string | undefined {
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && line.slice(0, i) === field) return line.slice(i + 1);
  }
  return undefined;
}

/** Whether `parent` issued `child`: names and key identifiers, and the signature (SM2-with-SM3 by the gm suite). */
export function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  if (!child.checkIssued(parent)) return false;
  return isSm2Certificate(child) ? sm2CertificateSignedBy(child, parent.publicKey) : child.verify(parent.publicKey);
}

/** Check a leaf (plus optional intermediates) against a trusted CA. Returns every problem found, empty if none. */
export function checkCertificate(
  leafPem: string,
  caPems: string[],
  expect: CertExpectations,
  intermediatePems: string[] = [],
): CertProblem[] {
  const leaf = parseCertificate(leafPem);
  if (!leaf) return [{ kind: 'unparseable', detail: 'the certificate is not a valid PEM X.509 certificate' }];
  const problems: CertProblem[] = [];
  const cas = caPems.map(parseCertificate).filter((c): c is X509Certificate => c !== undefined);
  const inters = intermediatePems.map(parseCertificate).filter((c): c is X509Certificate => c !== undefined);

  const within = (c: X509Certificate): CertProblem | undefined => {
    if (expect.at < new Date(c.validFrom)) return { kind: 'not-yet-valid', detail: `${c.subject.replace(/\n/g, ', ')} is not valid before ${new Date(c.validFrom).toISOString()}` };
    if (expect.at > new Date(c.validTo)) return { kind: 'expired', detail: `${c.subject.replace(/\n/g, ', ')} expired on ${new Date(c.validTo).toISOString()}` };
    return undefined;
  };

  // Walk up from the leaf through intermediates to a trusted CA; at most a few levels.
  let cur = leaf;
  let anchored = false;
  for (let depth = 0; depth < 5 && !anchored; depth++) {
    const ca = cas.find((c) => issuedBy(cur, c));
    if (ca && !expect.transport && subjectField(ca, 'OU') === ROLE_TRANSPORT_CA) {
      problems.push({ kind: 'foreign', detail: `the certificate for ${leaf.subject.replace(/\n/g, ', ')} is the transport CA's, which certifies TLS keys only, never evidence` });
      return problems;
    }
    if (ca) {
      anchored = true;
      const p = within(ca);
      if (p) problems.push(p);
      break;
    }
    const next = inters.find((c) => c.ca && issuedBy(cur, c));
    if (!next) break;
    const p = within(next);
    if (p) problems.push(p);
    cur = next;
  }
  if (!anchored) problems.push({ kind: 'foreign', detail: `the certificate for ${leaf.subject.replace(/\n/g, ', ')} was not issued by the agency CA` });

  const p = within(leaf);
  if (p) problems.push(p);
  if (expect.commonName !== undefined) {
    const cn = subjectField(leaf, 'CN');
    if (cn !== expect.commonName) problems.push({ kind: 'wrong-subject', detail: `the certificate is issued to ${JSON.stringify(cn)}, not ${JSON.stringify(expect.commonName)}` });
  }
  if (expect.role !== undefined) {
    const ou = subjectField(leaf, 'OU');
    // Exactly one OU: a certificate naming two roles would serve both (evidence-format.md §5.2).
    const ous = leaf.subject.split('\n').filter((l) => l.startsWith('OU=')).length;
    if (ous > 1) problems.push({ kind: 'wrong-role', detail: `the certificate names ${ous} roles (OU); a certificate has exactly one` });
    else if (ou !== expect.role) problems.push({ kind: 'wrong-role', detail: `the certificate is for role ${JSON.stringify(ou)}, not ${JSON.stringify(expect.role)}` });
  }
  if (expect.publicKey && !sameSpki(leaf.publicKey, expect.publicKey)) {
    problems.push({ kind: 'wrong-key', detail: 'the certificate does not carry this device\'s public key (it belongs to another key)' });
  }
  return problems;
}

/** Split a PEM bundle into its certificates. */
export function splitPemBundle(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((s) => s + '\n') ?? [];
}
