/**
 * A certificate from the agency CA (RSA) for an Ed25519 key: the transparency log's key and witnesses' keys sign
 * C2SP notes with Ed25519, and the CA vouches for the log's key so that a verifier needs only the CA certificate.
 * node-forge (which issues the other certificates) has no Ed25519 public keys, and @peculiar/x509's generator is
 * asynchronous while CA set-up is not, so the certificate is assembled from @peculiar/asn1-x509's structures and
 * signed with node:crypto, or, when the CA is a gm CA (an SM2 key), SM2-with-SM3 with the gm suite (sm2-cert.ts).
 */
import { randomSerial } from './serial.js';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { X509Certificate, createHash, sign, type KeyObject } from 'node:crypto';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { OID_SM2_WITH_SM3, SM2_CERT_ID } from './sm2-cert.js';

const OID_CN = '2.5.4.3';
const OID_OU = '2.5.4.11';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

export interface Ed25519CertOptions {
  caCertPem: string;
  caKey: KeyObject;
  publicKey: KeyObject;
  commonName: string;
  role: string;
  days: number;
  now: Date;
}

const ext = (extnID: string, critical: boolean, value: unknown): Extension =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

/** Issue the certificate and return it as PEM. */
export function issueEd25519Certificate(o: Ed25519CertOptions): string {
  if (o.publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError('issueEd25519Certificate: the key is not Ed25519');
  const caDer = new X509Certificate(o.caCertPem).raw;
  const ca = AsnConvert.parse(caDer, Certificate);
  const spkiDer = o.publicKey.export({ format: 'der', type: 'spki' });
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  const rdn = (type: string, value: string): RelativeDistinguishedName =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  const serial = randomSerial();
  const caSki = createHash('sha1').update(Buffer.from(ca.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)).digest();
  const ski = createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
  const gm = isSm2Key(o.caKey);
  const alg = gm ? new AlgorithmIdentifier({ algorithm: OID_SM2_WITH_SM3 }) : new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA, parameters: null });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: alg,
    issuer: ca.tbsCertificate.subject,
    validity: new Validity({ notBefore: new Date(o.now.getTime() - 5 * 60_000), notAfter: new Date(o.now.getTime() + o.days * 86_400_000) }),
    subject: new Name([rdn(OID_CN, o.commonName), rdn(OID_OU, o.role)]),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(new Uint8Array(ski).buffer)),
      ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(new Uint8Array(caSki).buffer) })),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = gm ? gmSuite.sign(tbsDer, o.caKey, { id: SM2_CERT_ID }) : sign('sha256', tbsDer, o.caKey);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: alg, signatureValue: new Uint8Array(signature).buffer });
  const der = Buffer.from(AsnConvert.serialize(cert));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
