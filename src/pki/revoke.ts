/**
 * `recgw ca revoke` and `recgw ca crl`: each CA keeps the certificates it revoked (revoked.json) and signs its CRL
 * from them. A gm agency has two issuers (evidence-format.md §17.8): the gm CA (SM2 evidence certificates; receivers
 * and verifiers read its CRL) and the transport CA in `transport/` (the TLS certificates mosquitto checks; the
 * broker's `crlfile` is its CRL). Both folders hold the same files: ca.pem, ca-key.pem, revoked.json, crl-number,
 * crl.pem. An intl agency's one CA serves both, so its crl.pem is the broker's too.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issuedBy, splitPemBundle } from './certs.js';
import { signCrl, type CrlEntry, type RevocationReason } from './crl.js';
import { caSuiteOf } from './gm-ca.js';
import { readPem } from './keys.js';
import { transportPaths } from './transport-ca.js';
import { RecgwError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fsx.js';

const REVOKED_FILE = 'revoked.json';
export const CRL_FILE = 'crl.pem';
/** A CRL is good for this long; `recgw ca crl` issues the next one (receivers warn when theirs is out of date). */
export const CRL_DAYS = 30;

/** A folder of an issuing CA: its certificate and key, and what it revoked. */
interface Issuer {
  dir: string;
  /** For messages: "the agency CA" or "the transport CA". */
  name: string;
}

/** The issuers of the CA folder `caDir`: its CA, and a gm CA's transport CA. */
function issuersOf(caDir: string): Issuer[] {
  const caPem = readPem(join(caDir, 'ca.pem'), 'CA certificate', 'point --ca at the folder `recgw ca init` wrote');
  const own = { dir: caDir, name: 'the agency CA' };
  if (caSuiteOf(caPem) !== 'gm') return [own];
  const t = transportPaths(caDir);
  return existsSync(t.caCert) ? [own, { dir: t.dir, name: 'the transport CA (broker TLS)' }] : [own];
}

/** The broker's CRL for the CA folder `caDir` (mosquitto's `crlfile`): the transport CA's under gm, else the CA's. */
export function brokerCrlOf(caDir: string): string {
  const all = issuersOf(caDir);
  return join(all[all.length - 1]!.dir, CRL_FILE);
}

export interface Revoked {
  entry: CrlEntry;
  /** The CRL that now lists it. */
  crlPath: string;
  issuer: string;
}

/**
 * Revoke the certificates in `certPem` (one, or a gm device's bundle of its SM2 and TLS certificates, each revoked
 * by its own issuer): from `date` on (default now; earlier when the key was compromised before it was noticed), what
 * the key signs is refused by receivers and reported by the verifier, and the broker refuses the TLS certificate.
 */
export async function revokeCertificate(o: { caDir: string; certPem: string; reason: RevocationReason; date?: Date; now?: Date }): Promise<Revoked & { all: Revoked[] }> {
  const pems = splitPemBundle(o.certPem);
  if (pems.length === 0) throw new RecgwError('usage', 'the certificate to revoke is not a PEM X.509 certificate');
  const issuers = issuersOf(o.caDir);
  const now = o.now ?? new Date();
  const plan = pems.map((pem) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (err) {
      throw new RecgwError('usage', 'the certificate to revoke is not a PEM X.509 certificate', { cause: err });
    }
    const issuer = issuers.find((i) => issuedBy(cert, new X509Certificate(readFileSync(join(i.dir, 'ca.pem'), 'utf8'))));
    if (!issuer) throw new RecgwError('usage', `the certificate (${cert.subject.replace(/\n/g, ', ')}) was not issued by the CA in ${o.caDir}: only its issuer can revoke it`);
    const entry: CrlEntry = { serial: cert.serialNumber.toLowerCase(), date: (o.date ?? now).toISOString(), reason: o.reason, subject: cert.subject.replace(/\n/g, ', ') };
    return { issuer, entry };
  });
  // Every entry is checked before anything is written: a bundle is revoked whole or not at all.
  const all: Revoked[] = [];
  for (const { issuer, entry } of plan) {
    const list = readRevoked(issuer.dir).filter((e) => e.serial !== entry.serial);
    list.push(entry);
    writeFileAtomicSync(join(issuer.dir, REVOKED_FILE), JSON.stringify(list, null, 2) + '\n');
    all.push({ entry, crlPath: await signIssuerCrl(issuer, now), issuer: issuer.name });
  }
  return { ...all[0]!, all };
}

/** Sign the CRLs of `caDir` (and of a gm CA's transport CA), valid CRL_DAYS from `now`; returns their paths. */
export async function issueCrl(caDir: string, now = new Date()): Promise<string[]> {
  const out: string[] = [];
  for (const i of issuersOf(caDir)) out.push(await signIssuerCrl(i, now));
  return out;
}

async function signIssuerCrl(i: Issuer, now: Date): Promise<string> {
  const numberFile = join(i.dir, 'crl-number');
  const number = (existsSync(numberFile) ? Number(readFileSync(numberFile, 'utf8')) : 0) + 1;
  const caKeyPem = readPem(join(i.dir, 'ca-key.pem'), `${i.name}'s private key`, 'point --ca at the folder `recgw ca init` wrote');
  const pem = await signCrl({ caCertPem: readFileSync(join(i.dir, 'ca.pem'), 'utf8'), caKeyPem, entries: readRevoked(i.dir), now, days: CRL_DAYS, number });
  writeFileAtomicSync(numberFile, `${number}\n`);
  const path = join(i.dir, CRL_FILE);
  writeFileAtomicSync(path, pem);
  return path;
}

function readRevoked(dir: string): CrlEntry[] {
  const f = join(dir, REVOKED_FILE);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as CrlEntry[]) : [];
}
