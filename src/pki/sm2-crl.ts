/**
 * CRLs of a gm CA (evidence-format.md §17.8): X.509 v2 CRLs (RFC 5280) signed SM2-with-SM3 with the default signer
 * ID 1234567812345678, as the gm CA's certificates are (GB/T 32918, GM/T 0009). @peculiar/x509, which signs and
 * checks the intl CRLs (crl.ts), signs through WebCrypto, which has no SM2; so the CRL is built here with the ASN.1
 * classes of @peculiar/asn1-x509 and signed with the gm suite, and its signature is checked over the signed bytes
 * exactly as they stand (signedParts). OpenSSL 3.0's `openssl crl -verify` checks SM2 with the empty ID only; the
 * openssl check of a gm CRL is `pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678` over the
 * TBSCertList's bytes (docs/evidence-format.md §17.8 has the recipe).
 */
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AuthorityKeyIdentifier,
  Certificate,
  CertificateList,
  CRLNumber,
  CRLReason,
  Extension,
  KeyIdentifier,
  RevokedCertificate,
  TBSCertList,
  Time,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { OID_SM2_WITH_SM3, SM2_CERT_ID, signedParts } from './sm2-cert.js';

export interface Sm2CrlEntry {
  /** Hex, as X509Certificate.serialNumber gives it. */
  serial: string;
  date: Date;
  /** RFC 5280 CRLReason code. */
  reason: number;
}

const ab = (b: Buffer): ArrayBuffer => new Uint8Array(b).buffer;
const ext = (extnID: string, value: unknown): Extension => new Extension({ extnID, critical: false, extnValue: new OctetString(AsnConvert.serialize(value)) });

/** A positive INTEGER's minimal bytes from hex (a leading zero byte only when the top bit is set). */
function serialBytes(hex: string): Buffer {
  const h = hex.replace(/^0+(?=.)/, '');
  const b = Buffer.from(h.length % 2 ? `0${h}` : h, 'hex');
  return b[0]! & 0x80 ? Buffer.concat([Buffer.of(0), b]) : b;
}

/** Sign a CRL of `entries` with the gm CA's SM2 key; returns PEM ("X509 CRL", as openssl writes it). */
export function signSm2Crl(o: { caCertPem: string; caKey: KeyObject; entries: Sm2CrlEntry[]; now: Date; days: number; number: number }): string {
  const ca = AsnConvert.parse(new X509Certificate(o.caCertPem).raw, Certificate).tbsCertificate;
  const ski = ca.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  const alg = (): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: OID_SM2_WITH_SM3 });
  const crlExtensions = [ext(id_ce_cRLNumber, new CRLNumber(o.number))];
  if (ski) crlExtensions.push(ext(id_ce_authorityKeyIdentifier, new AuthorityKeyIdentifier({ keyIdentifier: AsnConvert.parse(ski.extnValue.buffer, KeyIdentifier) })));
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: alg(),
    issuer: ca.subject,
    thisUpdate: new Time(o.now),
    nextUpdate: new Time(new Date(o.now.getTime() + o.days * 86_400_000)),
    ...(o.entries.length > 0
      ? {
          revokedCertificates: o.entries.map(
            (e) => new RevokedCertificate({ userCertificate: ab(serialBytes(e.serial)), revocationDate: new Time(e.date), crlEntryExtensions: [ext(id_ce_cRLReasons, new CRLReason(e.reason))] }),
          ),
        }
      : {}),
    crlExtensions,
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const crl = new CertificateList({ tbsCertList: tbs, signatureAlgorithm: alg(), signature: ab(gmSuite.sign(tbsDer, o.caKey, { id: SM2_CERT_ID })) });
  const b64 = Buffer.from(AsnConvert.serialize(crl)).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN X509 CRL-----\n${b64.replace(/\n$/, '')}\n-----END X509 CRL-----\n`;
}

/** Whether a CRL's DER is signed SM2-with-SM3 (outside and inside its TBSCertList). */
export function isSm2Crl(der: Buffer): boolean {
  try {
    return signedParts(der)?.algorithm === OID_SM2_WITH_SM3 && AsnConvert.parse(der, CertificateList).tbsCertList.signature.algorithm === OID_SM2_WITH_SM3;
  } catch {
    return false;
  }
}

/** Whether an SM2-with-SM3 CRL's signature verifies with the CA's key under the ID SM2_CERT_ID. Never throws. */
export function sm2CrlSignedBy(der: Buffer, caKey: KeyObject): boolean {
  const p = signedParts(der);
  return p !== undefined && isSm2Crl(der) && gmSuite.verify(p.signed, p.signature, caKey, { id: SM2_CERT_ID });
}
