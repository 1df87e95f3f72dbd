/**
 * A gm agency CA (`recgw ca init --suite gm`, issue 19): every certificate SM2-with-SM3 with the signer ID
 * 1234567812345678, accepted by `openssl verify -vfyopt distid:1234567812345678` and by recgw's own chain check
 * (certs.ts, which checks SM2 certificate signatures with the gm suite); device enrolment by SM2 CSR both ways
 * (ours checked by `openssl req -verify`, openssl's signed by our CA); a certificate signed by another SM2 key refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { caPaths, ensureRosterKey, initCa, issueEncryptionCertificate, issueServerCertificate, signDeviceCsr, type CaPaths } from '../../src/pki/ca.js';
import { checkCertificate } from '../../src/pki/certs.js';
import { caSuiteOf } from '../../src/pki/gm-ca.js';
import { identityPaths, deviceCertificateIssues } from '../../src/pki/identity.js';
import { prepareEnrolment } from '../../src/pki/enrol.js';
import { identityEnrolment } from '../../src/console/enrolment.js';
import { isSm2Certificate, issueSm2Certificate, sm2Name, OID_SM2_WITH_SM3 } from '../../src/pki/sm2-cert.js';
import { ROLE_DEVICE, ROLE_ENCRYPTION, ROLE_LOG, ROLE_RECEIPT, ROLE_ROSTER } from '../../src/pki/roles.js';
import { gmSuite } from '../../src/crypto/gm/gm-suite.js';
import { isSm2Key } from '../../src/crypto/gm/sm2-keys.js';
import { verifySignature } from '../../src/evidence/signer.js';
import { main } from '../../src/cli/main.js';

const ID = 'distid:1234567812345678';
let dir: string;
let ca: CaPaths;

function openssl(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('openssl', args, { timeout: 30_000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** `openssl verify` of one certificate against the gm CA, with the certificate ID or (id null) without. */
function osslVerify(certPath: string, id: string | null = ID): boolean {
  const r = openssl(['verify', ...(id ? ['-vfyopt', id] : []), '-CAfile', ca.caCert, certPath]);
  return r.code === 0 && r.out.includes(': OK');
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

beforeAll(async () => {
  dir = tmp('recgw-gm-ca-');
  const out = join(dir, 'ca');
  let text = '';
  const code = await main(['ca', 'init', '--suite', 'gm', '--out', out, '--agency', '演示执法局'], { out: (t) => void (text += t), err: (t) => void (text += t) });
  expect(code, text).toBe(0);
  expect(text).toContain('-vfyopt distid:1234567812345678');
  ca = caPaths(out);
  expect(text).toContain(`${ca.logSm2Key}, ${ca.logSm2Cert} (gm: the log's SM2 checkpoint key and certificate: for receivers)`);
});
afterAll(cleanupTmp);

describe('recgw ca init --suite gm', () => {
  it('makes an SM2 CA whose certificates openssl verifies with the default ID, and only with it', () => {
    expect(caSuiteOf(readFileSync(ca.caCert, 'utf8'))).toBe('gm');
    for (const [path, role] of [[ca.receiptCert, ROLE_RECEIPT], [ca.agencyEncCert, ROLE_ENCRYPTION], [ca.logCert, ROLE_LOG], [ca.logSm2Cert, ROLE_LOG]] as const) {
      const pem = readFileSync(path, 'utf8');
      expect(isSm2Certificate(pem), path).toBe(true);
      expect(openssl(['x509', '-in', path, '-noout', '-text']).out).toContain('Signature Algorithm: SM2-with-SM3');
      expect(osslVerify(path), path).toBe(true);
      // OpenSSL 3.0 checks with an empty ID unless told: the ID is what the signature is made with (§17.5).
      expect(osslVerify(path, null), path).toBe(false);
      expect(checkCertificate(pem, [readFileSync(ca.caCert, 'utf8')], { at: new Date(), role }), path).toEqual([]);
    }
    // The agency's own keys are SM2 (the log key stays Ed25519 for its C2SP notes).
    for (const k of [ca.caKey, ca.receiptKey, ca.agencyKey, ca.logSm2Key]) expect(isSm2Key(createPrivateKey(readFileSync(k, 'utf8'))), k).toBe(true);
    expect(new X509Certificate(readFileSync(ca.logCert, 'utf8')).publicKey.asymmetricKeyType).toBe('ed25519');
    // The log's SM2 key (§17.9): its certificate names the same origin as the Ed25519 one, and is for that key.
    const sm2Log = new X509Certificate(readFileSync(ca.logSm2Cert, 'utf8'));
    expect(sm2Log.subject).toBe(new X509Certificate(readFileSync(ca.logCert, 'utf8')).subject);
    expect(sm2Log.publicKey.equals(createPublicKey(createPrivateKey(readFileSync(ca.logSm2Key, 'utf8'))))).toBe(true);
    expect(osslVerify(ca.caCert)).toBe(true);
  });

  it('a gm CA folder from before the SM2 log key gets it from recgw ca receiver-cert, the same origin; an intl one gets none', async () => {
    const old = join(dir, 'old-gm');
    const p = initCa({ out: old, suite: 'gm' });
    rmSync(p.logSm2Key);
    rmSync(p.logSm2Cert);
    const ed = readFileSync(p.logCert, 'utf8');
    let text = '';
    const io = { out: (t: string) => void (text += t), err: (t: string) => void (text += t) };
    expect(await main(['ca', 'receiver-cert', '--ca', old, '--name', 'receiver:a', '--cert', join(dir, 'rx.pem'), '--key', join(dir, 'rx-key.pem')], io), text).toBe(0);
    expect(text).toContain(p.logSm2Cert);
    expect(readFileSync(p.logCert, 'utf8')).toBe(ed);
    expect(new X509Certificate(readFileSync(p.logSm2Cert, 'utf8')).subject).toBe(new X509Certificate(ed).subject);
    expect(checkCertificate(readFileSync(p.logSm2Cert, 'utf8'), [readFileSync(p.caCert, 'utf8')], { at: new Date(), role: ROLE_LOG })).toEqual([]);
    const intl = initCa({ out: join(dir, 'intl-rx') });
    expect(await main(['ca', 'receiver-cert', '--ca', join(dir, 'intl-rx'), '--name', 'receiver:b', '--cert', join(dir, 'rx2.pem'), '--key', join(dir, 'rx2-key.pem')], io)).toBe(0);
    expect(existsSync(intl.logSm2Key) || existsSync(intl.logSm2Cert)).toBe(false);
  });

  it('an intl CA is what it was: RSA, sha256WithRSAEncryption', () => {
    const p = initCa({ out: join(dir, 'intl') });
    expect(caSuiteOf(readFileSync(p.caCert, 'utf8'))).toBe('intl');
    expect(openssl(['x509', '-in', p.caCert, '-noout', '-text']).out).toContain('sha256WithRSAEncryption');
  });

  it('enrols a device: an SM2 key, a CSR openssl checks, a device certificate openssl and recgw both accept', () => {
    const paths = identityPaths(join(dir, 'gw1'));
    const { csrPem } = prepareEnrolment('room-1', paths, 'gm');
    const key = createPrivateKey(readFileSync(paths.key, 'utf8'));
    expect(isSm2Key(key)).toBe(true);
    expect(openssl(['req', '-in', paths.csr, '-verify', '-vfyopt', ID, '-noout']).code).toBe(0);
    const { certPem, deviceId } = signDeviceCsr({ caDir: join(dir, 'ca'), csrPem });
    expect(deviceId).toBe('room-1');
    expect(osslVerify(file('room-1.pem', certPem))).toBe(true);
    expect(deviceCertificateIssues(certPem, readFileSync(ca.caCert, 'utf8'), 'room-1', key, new Date())).toEqual([]);
  });

  it('the console enrols for the configured CA: an SM2 key and CSR for a gm CA, RSA for an intl one', () => {
    const gmPaths = identityPaths(join(dir, 'gw-console'));
    const csrPem = identityEnrolment({ deviceId: 'room-5', paths: gmPaths, caCert: ca.caCert }).csr();
    expect(isSm2Key(createPrivateKey(readFileSync(gmPaths.key, 'utf8')))).toBe(true);
    expect(signDeviceCsr({ caDir: join(dir, 'ca'), csrPem }).deviceId).toBe('room-5');
    const intlPaths = identityPaths(join(dir, 'gw-console-intl'));
    identityEnrolment({ deviceId: 'room-6', paths: intlPaths, caCert: join(dir, 'intl', 'ca.pem') }).csr();
    expect(createPrivateKey(readFileSync(intlPaths.key, 'utf8')).asymmetricKeyType).toBe('rsa');
  });

  it('signs a CSR openssl made with the ID, and refuses one openssl made with its default empty ID', () => {
    const keyPath = file('ossl-key.pem', openssl(['genpkey', '-algorithm', 'SM2']).out);
    const req = (sigopt: string[]): string => {
      const r = spawnSync('openssl', ['req', '-new', '-key', keyPath, '-sm3', ...sigopt, '-subj', '/CN=room-2/OU=recgw-device'], { timeout: 30_000 });
      expect(r.status, r.stderr.toString()).toBe(0);
      return r.stdout.toString();
    };
    const { certPem } = signDeviceCsr({ caDir: join(dir, 'ca'), csrPem: req(['-sigopt', ID]) });
    expect(osslVerify(file('room-2.pem', certPem))).toBe(true);
    expect(() => signDeviceCsr({ caDir: join(dir, 'ca'), csrPem: req([]) })).toThrow(/CSR signature does not verify/);
    // An RSA CSR is not for a gm CA.
    const rsa = prepareEnrolment('room-3', identityPaths(join(dir, 'gw3'))).csrPem;
    expect(() => signDeviceCsr({ caDir: join(dir, 'ca'), csrPem: rsa })).toThrow(/neither SM2-with-SM3 .* nor, for a TLS key, ECDSA-with-SHA256/);
  });

  it('refuses a certificate signed by another SM2 key, or with a flipped signature byte; openssl agrees', () => {
    const caPem = readFileSync(ca.caCert, 'utf8');
    const other = createPrivateKey(gmSuite.generateKeyPair().privateKeyPem);
    const dev = createPrivateKey(gmSuite.generateKeyPair().privateKeyPem);
    const opts = { publicKey: dev, subject: sm2Name([['CN', 'room-9'], ['OU', ROLE_DEVICE]]), extKeyUsage: 'clientAuth' as const, days: 10, now: new Date() };
    // Same issuer name and key identifier as the agency CA's, but signed by another key.
    const forged = issueSm2Certificate({ ...opts, issuerKey: other, issuerCertPem: caPem });
    const expect0 = { at: new Date(), role: ROLE_DEVICE, commonName: 'room-9' };
    expect(checkCertificate(forged, [caPem], expect0).map((p) => p.kind)).toEqual(['foreign']);
    expect(osslVerify(file('forged.pem', forged))).toBe(false);
    const good = issueSm2Certificate({ ...opts, issuerKey: createPrivateKey(readFileSync(ca.caKey, 'utf8')), issuerCertPem: caPem });
    expect(checkCertificate(good, [caPem], expect0)).toEqual([]);
    const der = Buffer.from(new X509Certificate(good).raw);
    der[der.length - 5]! ^= 0x01;
    const flipped = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(checkCertificate(flipped, [caPem], expect0).map((p) => p.kind)).toEqual(['foreign']);
    expect(osslVerify(file('flipped.pem', flipped))).toBe(false);
    // And an intl CA's chain check does not take an SM2 certificate for its own.
    expect(checkCertificate(good, [readFileSync(join(dir, 'intl', 'ca.pem'), 'utf8')], expect0).map((p) => p.kind)).toEqual(['foreign']);
  });

  it('issues SM2 roster and encryption certificates, and the roster signer signs SM2 that openssl checks', () => {
    const signer = ensureRosterKey(join(dir, 'ca'));
    expect(signer.suite).toBe('gm');
    expect(osslVerify(ca.rosterCert)).toBe(true);
    expect(checkCertificate(readFileSync(ca.rosterCert, 'utf8'), [readFileSync(ca.caCert, 'utf8')], { at: new Date(), role: ROLE_ROSTER })).toEqual([]);
    const data = Buffer.from('roster bytes');
    const sig = signer.sign(data);
    const pub = createPublicKey(readFileSync(ca.rosterKey, 'utf8'));
    expect(verifySignature(data, sig, pub)).toBe(true);
    expect(verifySignature(Buffer.from('roster bytez'), sig, pub)).toBe(false);
    const pubPath = file('roster-pub.pem', pub.export({ type: 'spki', format: 'pem' }) as string);
    const r = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', pubPath, '-rawin', '-digest', 'sm3', '-pkeyopt', ID, '-in', file('data.bin', 'roster bytes'), '-sigfile', join(dir, 'sig.der')], {
      timeout: 30_000,
      input: (writeFileSync(join(dir, 'sig.der'), sig), undefined),
    });
    expect(r.status, r.stderr.toString()).toBe(0);
    const encPem = issueEncryptionCertificate({ caDir: join(dir, 'ca'), publicKeyPem: gmSuite.generateKeyPair().publicKeyPem });
    expect(osslVerify(file('enc2.pem', encPem))).toBe(true);
    expect(openssl(['x509', '-in', join(dir, 'enc2.pem'), '-noout', '-ext', 'keyUsage']).out).toContain('Key Encipherment');
  });

  it('writes serial numbers as strict DER: 600 certificates in a row all parse (a leading zero byte is refused)', () => {
    const key = createPrivateKey(gmSuite.generateKeyPair().privateKeyPem);
    const caPem = issueSm2Certificate({ issuerKey: key, publicKey: key, subject: sm2Name([['CN', 't']]), ca: true, days: 1, now: new Date() });
    for (let i = 0; i < 600; i++) {
      const pem = issueSm2Certificate({ issuerKey: key, issuerCertPem: caPem, publicKey: key, subject: sm2Name([['CN', `c${i}`]]), days: 1, now: new Date() });
      expect(() => new X509Certificate(pem), `certificate ${i}`).not.toThrow();
    }
  });

  it('issues broker TLS certificates from its transport CA, never itself (OpenSSL 3.0 has no SM2 in TLS), and --suite takes intl or gm only', async () => {
    const server = new X509Certificate(issueServerCertificate({ caDir: join(dir, 'ca'), names: ['localhost'] }).certPem);
    const transport = new X509Certificate(readFileSync(join(dir, 'ca', 'transport', 'ca.pem')));
    expect(server.checkIssued(transport) && server.verify(transport.publicKey)).toBe(true);
    expect(server.checkIssued(new X509Certificate(readFileSync(join(dir, 'ca', 'ca.pem'))))).toBe(false);
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    let text = '';
    const code = await main(['ca', 'init', '--suite', 'sm', '--out', join(dir, 'x')], { out: (t) => void (text += t), err: (t) => void (text += t) });
    expect(code).not.toBe(0);
    expect(text).toContain('--suite must be intl or gm');
    expect(OID_SM2_WITH_SM3).toBe('1.2.156.10197.1.501');
  });
});
