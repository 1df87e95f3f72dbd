/**
 * Certificate revocation: the agency CA's CRL (X.509 v2, RFC 5280), issued by `recgw ca revoke`, read by receivers
 * (which refuse what a revoked key signed after its revocation) and by the verifier (which reports it). Built and
 * read with @peculiar/x509; node:crypto has no CRLs. A gm CA's CRLs are signed and checked by sm2-crl.ts.
 */
import type * as X509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { RecgwError } from '../util/errors.js';
import { parseCertificate } from './certs.js';
import { isSm2Certificate } from './sm2-cert.js';
import { isSm2Crl, signSm2Crl, sm2CrlSignedBy } from './sm2-crl.js';

let loading: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509 (and the reflect-metadata it needs), loaded when a CRL is first read or signed: loading it takes
 * about 0.4 s of CPU, which `recgw verify` without a CRL, and every gateway, need not pay.
 */
const x509lib = (): Promise<typeof X509> =>
  (loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })());

/** The reasons `recgw ca revoke` gives, with their RFC 5280 CRLReason codes. */
const REASON_CODES = { unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 } as const;
export type RevocationReason = keyof typeof REASON_CODES;
export const REVOCATION_REASONS = Object.keys(REASON_CODES) as RevocationReason[];
const reasonOf = (code: number | undefined): RevocationReason =>
  (Object.entries(REASON_CODES).find(([, c]) => c === code)?.[0] as RevocationReason | undefined) ?? 'unspecified';

export interface Revocation {
  /** Lowercase hex, no leading zeros. */
  serial: string;
  /** From when the key is not to be trusted: the CRL entry's invalidity date when given, else its revocation date. */
  date: Date;
  reason: RevocationReason;
}

const normSerial = (hex: string): string => hex.toLowerCase().replace(/^0+(?=.)/, '');
/** How a CA key signs a CRL: the agency CA's RSA key, or a gm agency's transport CA's P-256 key (transport-ca.ts). */
function crlAlgorithm(caKeyPem: string): { importAs: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; sign: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams } {
  if (createPrivateKey(caKeyPem).asymmetricKeyType === 'ec') return { importAs: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
  const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return { importAs: rsa, sign: rsa };
}

/** The revocations of one CA, from CRLs whose signature its certificate verifies. */
export class Revocations {
  private constructor(
    private readonly bySerial: Map<string, Revocation>,
    /** The CA subjects (node's one-per-line form) whose CRLs were read. */
    private readonly issuers: Set<string>,
    readonly nextUpdate: Date | undefined,
  ) {}

  static none(): Revocations {
    return new Revocations(new Map(), new Set(), undefined);
  }

  /** Read CRL PEM texts; each must be signed by one of `caPems`. A CRL that is not is a configuration error. */
  static async load(crlPems: { text: string; source: string }[], caPems: string[]): Promise<Revocations> {
    const map = new Map<string, Revocation>();
    const issuers = new Set<string>();
    let next: Date | undefined;
    const x509 = await x509lib();
    const cas = caPems.map((p) => new x509.X509Certificate(p));
    for (const { text, source } of crlPems) {
      for (const pem of text.match(/-----BEGIN (X509 )?CRL-----[\s\S]+?-----END (X509 )?CRL-----/g) ?? []) {
        let crl: X509.X509Crl;
        try {
          crl = new x509.X509Crl(pem.replace(/(BEGIN|END) X509 CRL/g, '$1 CRL'));
        } catch (err) {
          throw new RecgwError('config', `${source} holds a CRL that cannot be read (${(err as Error).message})`, { cause: err });
        }
        const ca = cas.find((c) => c.subject === crl.issuer);
        // A gm CA's CRL is SM2-with-SM3 (sm2-crl.ts), which @peculiar/x509's WebCrypto cannot check.
        const der = Buffer.from(crl.rawData);
        const signed = ca && (isSm2Crl(der) ? sm2CrlSignedBy(der, new X509Certificate(ca.toString('pem')).publicKey) : await crl.verify({ publicKey: ca.publicKey }));
        if (!ca || !signed) {
          throw new RecgwError('config', `${source}: the CRL of ${crl.issuer} is not signed by the agency CA: use the crl.pem that \`recgw ca revoke\` wrote`);
        }
        issuers.add(new X509Certificate(ca.toString('pem')).subject);
        if (crl.nextUpdate && (!next || crl.nextUpdate < next)) next = crl.nextUpdate;
        for (const e of crl.entries) {
          map.set(normSerial(e.serialNumber), { serial: normSerial(e.serialNumber), date: e.invalidity ?? e.revocationDate, reason: reasonOf(e.reason) });
        }
      }
    }
    return new Revocations(map, issuers, next);
  }

  /** Read CRL files (missing ones are a configuration error). */
  static async fromFiles(paths: string[], caPems: string[]): Promise<Revocations> {
    const texts = paths.map((p) => {
      if (!existsSync(p)) throw new RecgwError('config', `CRL file ${p} does not exist: give the crl.pem that \`recgw ca revoke\` writes into the CA folder`);
      return { text: readFileSync(p, 'utf8'), source: p };
    });
    return Revocations.load(texts, caPems);
  }

  get size(): number {
    return this.bySerial.size;
  }

  /** Take in another set's revocations (several CRLs of one CA, or of several). */
  add(other: Revocations): void {
    for (const [k, v] of other.bySerial) this.bySerial.set(k, v);
    for (const i of other.issuers) this.issuers.add(i);
  }

  /** The revocation of a certificate, if its issuer's CRL lists it. */
  of(certPem: string): Revocation | undefined {
    // Asked for every ledger entry: nothing to parse when nothing is revoked, and parsed certificates are cached.
    if (this.bySerial.size === 0) return undefined;
    const c = parseCertificate(certPem);
    if (!c || !this.issuers.has(c.issuer)) return undefined;
    return this.bySerial.get(normSerial(c.serialNumber));
  }
}

export interface CrlEntry {
  serial: string;
  date: string;
  reason: RevocationReason;
  /** Who the certificate was for, for people reading revoked.json. */
  subject: string;
}

/** Sign a CRL of `entries` with the CA key; valid for `days`. Returns the PEM ("X509 CRL", as openssl writes it). */
export async function signCrl(o: { caCertPem: string; caKeyPem: string; entries: CrlEntry[]; now: Date; days: number; number: number }): Promise<string> {
  if (isSm2Certificate(o.caCertPem)) {
    const entries = o.entries.map((e) => ({ serial: e.serial, date: new Date(e.date), reason: REASON_CODES[e.reason] }));
    return signSm2Crl({ caCertPem: o.caCertPem, caKey: createPrivateKey(o.caKeyPem), entries, now: o.now, days: o.days, number: o.number });
  }
  const x509 = await x509lib();
  const ca = new x509.X509Certificate(o.caCertPem);
  const der = Buffer.from(o.caKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const alg = crlAlgorithm(o.caKeyPem);
  const key = await webcrypto.subtle.importKey('pkcs8', der, alg.importAs, false, ['sign']);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.subjectName,
    thisUpdate: o.now,
    nextUpdate: new Date(o.now.getTime() + o.days * 86_400_000),
    entries: o.entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: new Date(e.date),
      reason: REASON_CODES[e.reason] as X509.X509CrlReason,
    })),
    extensions: [new x509.Extension('2.5.29.20', false, crlNumber(o.number))],
    signingAlgorithm: alg.sign,
    signingKey: key as unknown as X509.X509CrlCreateParams['signingKey'],
  });
  return crl.toString('pem').replace(/(BEGIN|END) CRL/g, '$1 X509 CRL') + '\n';
}

/** The DER of CRLNumber (an INTEGER), for the crlNumber extension RFC 5280 requires. */
function crlNumber(n: number): ArrayBuffer {
  const hex = n.toString(16).padStart(2, '0');
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  const body = bytes[0]! & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
  return new Uint8Array(Buffer.concat([Buffer.of(0x02, body.length), body])).buffer;
}
