/**
 * SM2 certificates and CSRs (issue 19, evidence-format.md §17.5): signature algorithm SM2-with-SM3
 * (OID 1.2.156.10197.1.501, no parameters), signed by recgw's gm suite with the default signer ID 1234567812345678
 * (GM/T 0015-2012, GM/T 0009-2012 §10), the ID `openssl verify -vfyopt distid:1234567812345678` and `openssl req
 * -verify -vfyopt distid:1234567812345678` check with. Neither node-forge nor node:crypto can sign SM2 with an ID,
 * so certificates are assembled from @peculiar/asn1-x509's structures (as ed25519-cert.ts does) and signed with
 * the gm suite. The same builder, given another DerSigner, makes the transport CA's ECDSA certificates and TLS CSRs
 * (transport-ca.ts).
 *
 * Checking: Node's X509Certificate.verify cannot check an SM2 certificate signature with the ID (OpenSSL 3.0 checks
 * certificate signatures with an empty ID unless told otherwise, and Node has no way to tell it), so
 * sm2CertificateSignedBy checks the signature itself: the TBSCertificate's exact bytes as they stand in the
 * certificate, and the signature, with the gm suite and the issuer's public key. certs.ts uses it for every
 * certificate whose signature algorithm is SM2-with-SM3.
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
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { X509Certificate, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { gmSuite } from '../crypto/gm/gm-suite.js';
import { SM2_DEFAULT_ID } from '../crypto/gm/sm2-sign.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { RecgwError } from '../util/errors.js';

/** SM2 signature with SM3 (GM/T 0006). */
export const OID_SM2_WITH_SM3 = '1.2.156.10197.1.501';
/** The signer ID of every certificate and CSR signature recgw makes or checks. */
export const SM2_CERT_ID = SM2_DEFAULT_ID;

const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';
const OID_OU = '2.5.4.11';

const ext = (extnID: string, critical: boolean, value: unknown): Extension =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
const ab = (b: Buffer): ArrayBuffer => new Uint8Array(b).buffer;

/** A DN of UTF8String values (agency names are Chinese): [attribute, value] pairs, one RDN each. */
export function sm2Name(parts: ['CN' | 'O' | 'OU', string][]): Name {
  const oid = { CN: OID_CN, O: OID_O, OU: OID_OU };
  return new Name(parts.map(([t, v]) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid[t], value: new AttributeValue({ utf8String: v }) })])));
}

function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string, label: string): Buffer | undefined {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : undefined;
}

/** Key identifier (RFC 5280 §4.2.1.2 method 1, as openssl computes it): SHA-1 of the subjectPublicKey bits. */
function keyId(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
}

const spkiOf = (key: KeyObject): SubjectPublicKeyInfo =>
  AsnConvert.parse((key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo);

export interface Sm2CertOptions {
  /** The issuer's SM2 private key. */
  issuerKey: KeyObject;
  /** The issuer's certificate; absent for a self-signed CA certificate (issuer = subject, key = issuerKey). */
  issuerCertPem?: string;
  /** The subject's public key (SM2, or any key the certificate vouches for: the log's is Ed25519). */
  publicKey: KeyObject;
  subject: Name;
  /** A CA certificate (basicConstraints cA, keyCertSign and cRLSign) or an end entity's. */
  ca?: boolean;
  /** End entities: the key usage (default digitalSignature). */
  usage?: 'sign' | 'encipher';
  extKeyUsage?: 'clientAuth' | 'serverAuth';
  /** DNS names or IPv4 addresses (serverAuth). */
  altNames?: string[];
  days: number;
  now: Date;
}

/**
 * How a certificate or CSR is signed: its signature algorithm OID (no parameters) and the signing of the DER.
 * SM2-with-SM3 here; the transport CA (transport-ca.ts) signs ECDSA with SHA-256 with the same builder.
 */
export interface DerSigner {
  algorithm: string;
  sign(der: Buffer): Buffer;
}

/** SM2 over SM3 with the ID SM2_CERT_ID. */
export function sm2DerSigner(key: KeyObject): DerSigner {
  if (!isSm2Key(key)) throw new RecgwError('identity', 'an SM2 certificate is signed by an SM2 key: the CA key is not one');
  return { algorithm: OID_SM2_WITH_SM3, sign: (der) => gmSuite.sign(der, key, { id: SM2_CERT_ID }) };
}

/** Issue a certificate signed SM2-with-SM3 by `issuerKey`, with the ID SM2_CERT_ID; returns PEM. */
export function issueSm2Certificate(o: Sm2CertOptions): string {
  return issueX509Certificate(o, sm2DerSigner(o.issuerKey));
}

/** Issue a certificate signed by `signer` (whose key is `o.issuerKey`); returns PEM. */
export function issueX509Certificate(o: Sm2CertOptions, signer: DerSigner): string {
  const alg = (): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithm: signer.algorithm });
  const spki = spkiOf(o.publicKey);
  const issuerTbs = o.issuerCertPem ? AsnConvert.parse(new X509Certificate(o.issuerCertPem).raw, Certificate).tbsCertificate : undefined;
  const issuerSpki = issuerTbs?.subjectPublicKeyInfo ?? spkiOf(o.issuerKey);
  // Positive and minimal as DER wants it: top bit clear (not negative), next bit set (no leading zero byte, which
  // OpenSSL refuses as "illegal padding").
  const serial = randomSerial();
  const exts: Extension[] = [
    ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: o.ca === true })),
    ext(
      id_ce_keyUsage,
      true,
      new KeyUsage(
        o.ca
          ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign
          : o.usage === 'encipher'
            ? KeyUsageFlags.keyEncipherment | KeyUsageFlags.dataEncipherment
            : KeyUsageFlags.digitalSignature,
      ),
    ),
    ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(ab(keyId(spki)))),
  ];
  if (issuerTbs) exts.push(ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(ab(keyId(issuerSpki))) })));
  if (o.extKeyUsage) exts.push(ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage([o.extKeyUsage === 'clientAuth' ? id_kp_clientAuth : id_kp_serverAuth])));
  if (o.altNames?.length) {
    exts.push(
      ext(
        id_ce_subjectAltName,
        false,
        new SubjectAlternativeName(
          o.altNames.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? new GeneralName({ iPAddress: n }) : new GeneralName({ dNSName: n }))),
        ),
      ),
    );
  }
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: ab(serial),
    signature: alg(),
    issuer: issuerTbs?.subject ?? o.subject,
    validity: new Validity({ notBefore: new Date(o.now.getTime() - 5 * 60_000), notAfter: new Date(o.now.getTime() + o.days * 86_400_000) }),
    subject: o.subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(exts),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: alg(), signatureValue: ab(signer.sign(tbsDer)) });
  return toPem(Buffer.from(AsnConvert.serialize(cert)), 'CERTIFICATE');
}

/** One DER TLV: where its content starts and where it ends. Lengths in up to four bytes. */
function tlv(buf: Buffer, pos: number): { tag: number; start: number; end: number } | undefined {
  if (pos + 2 > buf.length) return undefined;
  const first = buf[pos + 1]!;
  let len = first;
  let start = pos + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  return end <= buf.length ? { tag: buf[pos]!, start, end } : undefined;
}

/**
 * The signed part of a certificate or CSR (both SEQUENCE { signed SEQUENCE, AlgorithmIdentifier, BIT STRING }):
 * the signed bytes exactly as they stand, the signature algorithm OID and the signature. Undefined for other DER.
 */
export function signedParts(der: Buffer): { signed: Buffer; algorithm: string; signature: Buffer } | undefined {
  const outer = tlv(der, 0);
  if (!outer || outer.tag !== 0x30 || outer.end !== der.length) return undefined;
  const body = tlv(der, outer.start);
  if (!body || body.tag !== 0x30) return undefined;
  const alg = tlv(der, body.end);
  if (!alg || alg.tag !== 0x30) return undefined;
  const bits = tlv(der, alg.end);
  if (!bits || bits.tag !== 0x03 || bits.end !== outer.end || bits.end - bits.start < 2 || der[bits.start] !== 0) return undefined;
  let algorithm: string;
  try {
    algorithm = AsnConvert.parse(der.subarray(body.end, alg.end), AlgorithmIdentifier).algorithm;
  } catch {
    return undefined;
  }
  return { signed: der.subarray(outer.start, body.end), algorithm, signature: der.subarray(bits.start + 1, bits.end) };
}

const sm2Signed = new WeakMap<X509Certificate, boolean>();

/** Whether a certificate's signature algorithm is SM2-with-SM3. */
export function isSm2Certificate(cert: X509Certificate | string): boolean {
  if (typeof cert === 'string') {
    const der = fromPem(cert, 'CERTIFICATE');
    return der !== undefined && signedParts(der)?.algorithm === OID_SM2_WITH_SM3;
  }
  let v = sm2Signed.get(cert);
  if (v === undefined) sm2Signed.set(cert, (v = signedParts(cert.raw)?.algorithm === OID_SM2_WITH_SM3));
  return v;
}

/**
 * Whether `cert`'s SM2-with-SM3 signature verifies with `issuerKey` under the ID SM2_CERT_ID (and the signature
 * algorithm inside the TBSCertificate is the same). Never throws.
 */
export function sm2CertificateSignedBy(cert: X509Certificate, issuerKey: KeyObject): boolean {
  try {
    const p = signedParts(cert.raw);
    if (!p || p.algorithm !== OID_SM2_WITH_SM3) return false;
    if (AsnConvert.parse(cert.raw, Certificate).tbsCertificate.signature.algorithm !== OID_SM2_WITH_SM3) return false;
    return gmSuite.verify(p.signed, p.signature, issuerKey, { id: SM2_CERT_ID });
  } catch {
    return false;
  }
}

/** A CSR for an SM2 key, subject CN = `commonName` and OU = `role`, signed SM2-with-SM3 with the ID SM2_CERT_ID. */
export function createSm2Csr(commonName: string, role: string, privateKey: KeyObject): string {
  return createCsrWith(commonName, role, privateKey, sm2DerSigner(privateKey));
}

/** A CSR for `privateKey`'s public key, subject CN = `commonName` and OU = `role`, signed by `signer` (that key's). */
export function createCsrWith(commonName: string, role: string, privateKey: KeyObject, signer: DerSigner): string {
  const info = new CertificationRequestInfo({ subject: sm2Name([['CN', commonName], ['OU', role]]), subjectPKInfo: spkiOf(privateKey) });
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const csr = new CertificationRequest({ certificationRequestInfo: info, signatureAlgorithm: new AlgorithmIdentifier({ algorithm: signer.algorithm }), signature: ab(signer.sign(infoDer)) });
  return toPem(Buffer.from(AsnConvert.serialize(csr)), 'CERTIFICATE REQUEST');
}

/** Every PEM certificate request in `text`, in order (a gm device's CSR file holds two: enrol.ts). */
export function splitCsrBundle(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE REQUEST-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE REQUEST-----/g)?.map((b) => b + '\n') ?? [];
}

/** ECDSA with SHA-256 (RFC 5758): the transport CA's signatures and its device TLS CSRs (transport-ca.ts). */
export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** Whether `signature` over `signed` verifies with `key` under `algorithm` (SM2-with-SM3 or ECDSA-with-SHA256). */
function verifiesAs(algorithm: string, signed: Buffer, signature: Buffer, key: KeyObject): boolean {
  if (algorithm === OID_SM2_WITH_SM3) return isSm2Key(key) && gmSuite.verify(signed, signature, key, { id: SM2_CERT_ID });
  if (algorithm === OID_ECDSA_WITH_SHA256) return !isSm2Key(key) && key.asymmetricKeyType === 'ec' && verify('sha256', signed, key, signature);
  return false;
}

/**
 * Read a CSR signed SM2-with-SM3 or ECDSA-with-SHA256 whose signature verifies with its own key; returns its CN, key
 * and signature algorithm, or throws a RecgwError saying what is wrong.
 */
export function readCsr(pem: string): { commonName: string; publicKey: KeyObject; algorithm: string } {
  const der = fromPem(pem, 'CERTIFICATE REQUEST');
  const parts = der && signedParts(der);
  if (!der || !parts) throw new RecgwError('invalid', 'the CSR is not a PEM certificate request (expected -----BEGIN CERTIFICATE REQUEST-----)');
  if (parts.algorithm !== OID_SM2_WITH_SM3 && parts.algorithm !== OID_ECDSA_WITH_SHA256) {
    throw new RecgwError('invalid', `the CSR is signed with ${parts.algorithm}, neither SM2-with-SM3 (${OID_SM2_WITH_SM3}) nor, for a TLS key, ECDSA-with-SHA256 (${OID_ECDSA_WITH_SHA256}): this CA is a gm CA`);
  }
  let req: CertificationRequest;
  let publicKey: KeyObject;
  try {
    req = AsnConvert.parse(der, CertificationRequest);
    publicKey = createPublicKey({ key: Buffer.from(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo)), format: 'der', type: 'spki' });
  } catch (err) {
    throw new RecgwError('invalid', 'the CSR cannot be read', { cause: err });
  }
  if (parts.algorithm === OID_SM2_WITH_SM3 && !isSm2Key(publicKey)) throw new RecgwError('invalid', 'the CSR carries a key that is not SM2: a gm CA issues device certificates for SM2 keys only');
  if (!verifiesAs(parts.algorithm, parts.signed, parts.signature, publicKey)) {
    throw new RecgwError('invalid', 'the CSR signature does not verify: it was altered or not made with the device key');
  }
  let commonName = '';
  for (const rdn of req.certificationRequestInfo.subject) {
    for (const a of rdn) if (a.type === OID_CN) commonName = a.value.toString();
  }
  return { commonName, publicKey, algorithm: parts.algorithm };
}

/** Read an SM2 CSR whose signature verifies with its own key; returns its CN and key, or throws a RecgwError. */
export function readSm2Csr(pem: string): { commonName: string; publicKey: KeyObject } {
  const r = readCsr(pem);
  if (r.algorithm !== OID_SM2_WITH_SM3) throw new RecgwError('invalid', `the CSR is signed with ${r.algorithm}, not SM2-with-SM3 (${OID_SM2_WITH_SM3}): this CA is a gm CA and issues SM2 certificates only`);
  return { commonName: r.commonName, publicKey: r.publicKey };
}
