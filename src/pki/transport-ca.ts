/**
 * A gm agency's transport CA (evidence-format.md §17.8): OpenSSL 3.0, which Node and mosquitto use, has no SM2 in
 * TLS, so the broker's mutual TLS runs on ECDSA P-256 certificates from a CA of their own, kept beside the gm CA in
 * `DIR/transport/`. It issues TLS certificates only (broker server, receivers, one per device with CN = the device
 * ID so the broker's ACL is unchanged); nothing it certifies is evidence, and its name and OU say so. Certificates
 * are built with sm2-cert.ts's X.509 builder and signed ECDSA-with-SHA256 by node:crypto.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { caSuiteOf } from './gm-ca.js';
import { ROLE_TRANSPORT_CA } from './certs.js';
import { join } from 'node:path';
import { readPem, writePrivateKey } from './keys.js';
import { ROLE_DEVICE, ROLE_RECEIVER, ROLE_SERVER, type CertRole } from './roles.js';
import { OID_ECDSA_WITH_SHA256, createCsrWith, issueX509Certificate, sm2Name, type DerSigner } from './sm2-cert.js';
import { writeFileAtomicSync } from '../util/fsx.js';
import { RecgwError } from '../util/errors.js';

/** The OU of the transport CA's own certificate: "TLS only, never evidence" (certs.ts refuses it for evidence). */
export { ROLE_TRANSPORT_CA };
/** The folder, inside a gm CA folder, of its transport CA. */
export const TRANSPORT_DIR = 'transport';

export interface TransportPaths {
  dir: string;
  caCert: string;
  caKey: string;
}

export function transportPaths(caDir: string): TransportPaths {
  const dir = join(caDir, TRANSPORT_DIR);
  return { dir, caCert: join(dir, 'ca.pem'), caKey: join(dir, 'ca-key.pem') };
}

/** The CA certificate the broker's TLS runs on for the CA folder `caDir`: its transport CA's if it is gm, else its own. */
export function brokerCaCertOf(caDir: string): string {
  const own = join(caDir, 'ca.pem');
  return existsSync(own) && caSuiteOf(readFileSync(own, 'utf8')) === 'gm' ? transportPaths(caDir).caCert : own;
}

/** A new ECDSA P-256 key, PKCS#8 PEM: every key the transport CA certifies, and its own. */
export function newTlsKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

export function ecdsaDerSigner(key: KeyObject): DerSigner {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new RecgwError('identity', 'a transport certificate or TLS CSR is signed by an ECDSA P-256 key: this key is not one');
  }
  return { algorithm: OID_ECDSA_WITH_SHA256, sign: (der) => sign('sha256', der, key) };
}

/** Make the transport CA of the gm CA in `caDir` unless it has one. */
export function initTransportCa(caDir: string, o: { agency: string; days: number; now: Date }): TransportPaths {
  const p = transportPaths(caDir);
  if (existsSync(p.caCert) && existsSync(p.caKey)) return p;
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const keyPem = newTlsKeyPem();
  const key = createPrivateKey(keyPem);
  const subject = sm2Name([
    ['CN', `${o.agency} transport CA (TLS only, not evidence)`],
    ['O', o.agency],
    ['OU', ROLE_TRANSPORT_CA],
  ]);
  const pem = issueX509Certificate({ issuerKey: key, publicKey: key, subject, ca: true, days: o.days, now: o.now }, ecdsaDerSigner(key));
  writePrivateKey(p.caKey, keyPem);
  writeFileAtomicSync(p.caCert, pem);
  return p;
}

const TLS_ROLES: CertRole[] = [ROLE_SERVER, ROLE_RECEIVER, ROLE_DEVICE];

/** A TLS certificate from the transport CA of `caDir` for `publicKey` (server, receiver or device role). */
export function issueTransportCertificate(caDir: string, o: { publicKey: KeyObject; commonName: string; role: CertRole; days: number; now: Date; dnsNames?: string[] }): string {
  if (!TLS_ROLES.includes(o.role)) throw new RecgwError('usage', `the transport CA issues TLS certificates only (broker, receivers, devices' TLS), not ${o.role}`);
  const p = transportPaths(caDir);
  const hint = 'point --ca at a gm CA folder (`recgw ca init --suite gm` makes its transport/ folder)';
  const caPem = readPem(p.caCert, 'transport CA certificate', hint);
  const caKey = createPrivateKey(readPem(p.caKey, 'transport CA key', hint));
  return issueX509Certificate(
    {
      issuerKey: caKey,
      issuerCertPem: caPem,
      publicKey: o.publicKey,
      subject: sm2Name([['CN', o.commonName], ['OU', o.role]]),
      usage: 'sign',
      ...(o.role === ROLE_SERVER ? { extKeyUsage: 'serverAuth' as const, altNames: o.dnsNames ?? [o.commonName] } : { extKeyUsage: 'clientAuth' as const }),
      days: o.days,
      now: o.now,
    },
    ecdsaDerSigner(caKey),
  );
}

/** A device's TLS CSR (CN = the device ID, OU = recgw-device), signed ECDSA-with-SHA256 by its TLS key. */
export function createTlsCsr(deviceId: string, tlsKey: KeyObject): string {
  return createCsrWith(deviceId, ROLE_DEVICE, tlsKey, ecdsaDerSigner(tlsKey));
}
