/**
 * Certificate enrolment from the console, over the same functions `recgw enrol` uses: the CSR for the device key,
 * installing a signed certificate only after every check passes, and what the installed one says (expiry).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { CertificateRefused, deviceCertificateIssues, installCertificate, tlsCertificateIssues, type IdentityPaths } from '../pki/identity.js';
import { prepareEnrolment } from '../pki/enrol.js';
import { enrolmentSuite } from '../pki/gm-ca.js';
import { subjectField } from '../pki/certs.js';
import type { CertSummary, Enrolment } from './deps.js';

export function certSummary(pem: string): CertSummary {
  const x = new X509Certificate(pem);
  return {
    subject: subjectField(x, 'CN') ?? x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    serial: x.serialNumber,
    validFrom: new Date(x.validFrom).toISOString(),
    validTo: new Date(x.validTo).toISOString(),
    fingerprint256: x.fingerprint256,
  };
}

/** A gm device's broker TLS certificate (evidence-format.md §17.8): missing, or what is wrong with it; nothing for an intl device. */
function tlsProblemsOf(o: { deviceId: string; paths: IdentityPaths; transportCaCert?: string }, at: Date): { kind: 'tls-missing' | 'tls-refused'; text: string }[] {
  if (!existsSync(o.paths.tlsKey)) return [];
  if (!existsSync(o.paths.tlsCert)) return [{ kind: 'tls-missing', text: 'the broker TLS certificate is not installed: upload the file the agency signed (it holds both certificates)' }];
  if (!o.transportCaCert) return [{ kind: 'tls-refused', text: 'agency.transportCaCert is not set: the TLS certificate cannot be checked' }];
  const key = createPrivateKey(readFileSync(o.paths.tlsKey, 'utf8'));
  return tlsCertificateIssues(readFileSync(o.paths.tlsCert, 'utf8'), readFileSync(o.transportCaCert, 'utf8'), o.deviceId, key, at).map((i) => ({ kind: 'tls-refused' as const, text: i.text }));
}

export function identityEnrolment(o: { deviceId: string; paths: IdentityPaths; caCert: string; transportCaCert?: string; now?: () => number }): Enrolment {
  const now = (): Date => new Date(o.now ? o.now() : Date.now());
  const tlsProblems = (): { kind: 'tls-missing' | 'tls-refused'; text: string }[] => tlsProblemsOf(o, now());
  return {
    // A new device key is of the agency CA's suite (SM2 for a gm CA); a gm device's CSR file requests its broker TLS
    // certificate too, and the signed file back holds both (installCertificate sorts them by key).
    csr: () => prepareEnrolment(o.deviceId, o.paths, enrolmentSuite(o.caCert)).csrPem,
    install(certPem) {
      const pem = certPem.trim() + '\n';
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
        throw new CertificateRefused([{ kind: 'unparseable', text: 'that is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)' }]);
      }
      installCertificate(o.deviceId, o.paths, o.caCert, pem, now(), o.transportCaCert);
      return certSummary(pem);
    },
    current() {
      if (!existsSync(o.paths.cert)) {
        return { cert: null, problems: [{ kind: 'not-enrolled', text: 'the device is not enrolled: download the CSR, have the agency sign it, upload the certificate' }] };
      }
      const pem = readFileSync(o.paths.cert, 'utf8');
      try {
        const key = createPrivateKey(readFileSync(o.paths.key, 'utf8'));
        return { cert: certSummary(pem), problems: [...deviceCertificateIssues(pem, readFileSync(o.caCert, 'utf8'), o.deviceId, key, now()), ...tlsProblems()] };
      } catch (err) {
        return { cert: null, problems: [{ kind: 'unparseable', text: `the installed certificate cannot be read: ${(err as Error).message}` }] };
      }
    },
  };
}
