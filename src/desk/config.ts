/**
 * The desk's config file (docs/desk.md §1): the index database, where to listen, the HTTPS certificate and key, the
 * zone times are shown in, the sign-in throttle, and the CA and store the verifier uses. Checked whole on load; each problem names the key and the fix.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { KeySigner, type Signer } from '../evidence/signer.js';
import { isSm2Key } from '../crypto/gm/sm2-keys.js';
import { dirname, resolve } from 'node:path';
import { parseDatabaseUrl } from '../index/database.js';
import type { GatewayWatchConfig } from './gateway-watch.js';
import type { AuditAnchorConfig } from './audit-anchor.js';
import { isKeyName } from '../tlog/note.js';
import { MIN_TERM_YEARS } from '../evidence/deletion-event.js';
import { loadPrivateKey } from '../pki/keys.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import { DEFAULT_ZONE, isKnownZone } from '../util/local-time.js';
import { isS3Location, type S3Access } from '../store/open-store.js';
import { s3AccessOf, s3BlockProblems, s3Problem, type S3Block } from '../store/s3-config.js';

export interface DeskConfig {
  /** postgres://… or sqlite:PATH (the index's URL, docs/agency-index.md §1). */
  database: string;
  listen: { host: string; port: number };
  /** PEM files, relative to the config file's folder when not absolute. */
  tls: { cert: string; key: string };
  zone: string;
  /** Sign-in attempts allowed per account name and address within `windowSeconds`. */
  login: { attempts: number; windowSeconds: number };
  /** The agency CA bundle the verifier checks a device folder against ("verify this session"). */
  ca: string;
  /**
   * The store the index was built from, a folder or `s3://BUCKET/PREFIX`; when absent, the one the last rebuild
   * recorded (index_meta `store`).
   */
  store: string | undefined;
  /** The S3 service of an `s3://` store, whether the config or the index names it (desk-store.ts). */
  s3: S3Access | undefined;
  /** The agency-issued key and certificate (PEM files) the sample-check reports are signed with; none: reports cannot be signed. */
  sampleSigning: { key: string; cert: string } | undefined;
  /** The agency's private decryption key: the desk decrypts segments with it, only under an approval (approvals.ts). */
  /** The agency's private decryption keys (one; two during a migration between suites). */
  agencyKey: string[];
  /** The agency's units file (src/report/units.ts): which unit owns which device, for the statistics per unit. */
  units: string | undefined;
  /** The broker the gateways publish their status to, and how long a silent gateway may be before it is offline. */
  gateways: GatewayWatchConfig | undefined;
  /** The audit chain's checkpoints, cosigned by the agency's witnesses (audit-anchor.ts); none: not anchored. */
  auditAnchor: AuditAnchorConfig | undefined;
  /**
   * How long a session not used as evidence is kept after it ended, in whole years (at least MIN_TERM_YEARS: 004 规定
   * §10, 制度 §16); undefined: no retention is configured, and nothing expires.
   */
  retention: { years: number } | undefined;
}

const KEYS = ['database', 'listen', 'tls', 'zone', 'login', 'ca', 'store', 's3', 'sampleSigning', 'units', 'gateways', 'auditAnchor', 'agencyKey', 'retention'];

export function parseDeskConfig(raw: unknown, baseDir: string, file = 'the desk config'): DeskConfig {
  const problems: string[] = [];
  const bad = (key: string, what: string): void => void problems.push(`${key}: ${what}`);
  const o = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  if (o !== raw) bad('(top)', 'must be a JSON object');
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) bad(k, `unknown key (known: ${KEYS.join(', ')})`);

  const database = typeof o.database === 'string' ? o.database : '';
  if (database === '') bad('database', 'missing: give the index database, postgres://USER@HOST:PORT/DATABASE or sqlite:PATH');
  else {
    try {
      parseDatabaseUrl(database);
    } catch (err) {
      bad('database', (err as Error).message);
    }
  }
  const listen = (o.listen ?? {}) as Record<string, unknown>;
  const host = typeof listen.host === 'string' && listen.host !== '' ? listen.host : '';
  if (host === '') bad('listen.host', 'missing: give the address to listen on, e.g. "0.0.0.0" or "127.0.0.1"');
  const port = listen.port;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) bad('listen.port', 'must be a port number 0–65535 (443 or 8443, say)');
  const tls = (o.tls ?? {}) as Record<string, unknown>;
  for (const k of ['cert', 'key'] as const) {
    if (typeof tls[k] !== 'string' || tls[k] === '') bad(`tls.${k}`, `missing: give the PEM file of the desk's HTTPS ${k === 'cert' ? 'certificate' : 'private key'}`);
  }
  const zone = o.zone === undefined ? DEFAULT_ZONE : o.zone;
  if (typeof zone !== 'string' || !isKnownZone(zone)) bad('zone', `${JSON.stringify(zone)} is not a time zone: give an IANA name such as Asia/Shanghai`);
  const login = (o.login ?? {}) as Record<string, unknown>;
  const attempts = login.attempts ?? 5;
  const windowSeconds = login.windowSeconds ?? 300;
  if (!Number.isInteger(attempts) || (attempts as number) < 1) bad('login.attempts', 'must be a whole number of at least 1 (default 5)');
  if (!Number.isInteger(windowSeconds) || (windowSeconds as number) < 1) bad('login.windowSeconds', 'must be a whole number of seconds, at least 1 (default 300)');

  if (typeof o.ca !== 'string' || o.ca === '') bad('ca', "missing: give the agency CA certificate (ca.pem) the verifier checks devices against");
  if (o.store !== undefined && (typeof o.store !== 'string' || o.store === '')) bad('store', 'must be the store the index was built from, a folder or s3://BUCKET/PREFIX (or leave it out: the last rebuild recorded it)');
  // The s3 block as the receiver's (s3-config.ts); allowed without a store here, for an s3:// one the index names.
  const s3Problems = o.s3 === undefined ? [] : s3BlockProblems(o.s3);
  const storeS3 = s3Problem({ ...(typeof o.store === 'string' && o.store !== '' ? { store: o.store } : {}), s3: o.s3 }, true);
  for (const p of [...s3Problems, ...(storeS3 ? [storeS3] : [])]) bad(p.key, `${p.message}（${p.zh}）`);

  let sampleSigning: { key: string; cert: string } | undefined;
  if (o.sampleSigning !== undefined) {
    const ss = (typeof o.sampleSigning === 'object' && o.sampleSigning !== null && !Array.isArray(o.sampleSigning) ? o.sampleSigning : undefined) as Record<string, unknown> | undefined;
    if (!ss) bad('sampleSigning', 'must be an object { "key": "sample-key.pem", "cert": "sample-cert.pem" }: the agency-issued key the sample-check reports are signed with');
    else {
      for (const k of Object.keys(ss)) if (k !== 'key' && k !== 'cert') bad(`sampleSigning.${k}`, 'unknown key (known: key, cert)');
      if (typeof ss.key !== 'string' || ss.key === '') bad('sampleSigning.key', 'missing: give the PEM file of the RSA or EC private key the agency issued for signing sample-check reports');
      if (typeof ss.cert !== 'string' || ss.cert === '') bad('sampleSigning.cert', "missing: give the PEM file of that key's certificate, issued by the agency");
      if (typeof ss.key === 'string' && ss.key !== '' && typeof ss.cert === 'string' && ss.cert !== '') sampleSigning = { key: resolve(baseDir, ss.key), cert: resolve(baseDir, ss.cert) };
    }
  }

  const keyFiles = o.agencyKey === undefined ? [] : Array.isArray(o.agencyKey) ? (o.agencyKey as unknown[]) : [o.agencyKey];
  if (keyFiles.length === 0 && o.agencyKey !== undefined || keyFiles.some((k) => typeof k !== 'string' || k === '')) {
    bad('agencyKey', "must be the agency's private decryption key, e.g. \"agency-key.pem\" (mode 600), or a list of two during a migration between suites (an RSA and an SM2 key), or leave it out: the desk then decrypts nothing");
  }
  if (o.units !== undefined && (typeof o.units !== 'string' || o.units === '')) bad('units', 'must be the units file, e.g. "units.json" (which unit owns which device: {"units": [{"name": "朝阳分局", "devices": ["room-1"]}]}), or leave it out');

  let gateways: GatewayWatchConfig | undefined;
  if (o.gateways !== undefined) {
    const g = (typeof o.gateways === 'object' && o.gateways !== null && !Array.isArray(o.gateways) ? o.gateways : {}) as Record<string, unknown>;
    for (const k of Object.keys(g)) if (!['broker', 'cert', 'key', 'offlineMinutes'].includes(k)) bad(`gateways.${k}`, 'unknown key (known: broker, cert, key, offlineMinutes)');
    const broker = typeof g.broker === 'string' && /^mqtts:\/\/[^/]+$/.test(g.broker) ? g.broker : '';
    if (broker === '') bad('gateways.broker', 'must be the broker the gateways publish to, mqtts://HOST:PORT (TLS: the desk shows a receiver certificate)');
    for (const k of ['cert', 'key'] as const) {
      if (typeof g[k] !== 'string' || g[k] === '') bad(`gateways.${k}`, `missing: give the PEM file of a receiver ${k === 'cert' ? 'certificate' : "certificate's key"} (recgw ca receiver-cert --name receiver:desk), which the broker lets read the gateways' status`);
    }
    const minutes = g.offlineMinutes ?? 5;
    if (!Number.isInteger(minutes) || (minutes as number) < 2 || (minutes as number) > 1440) bad('gateways.offlineMinutes', 'must be whole minutes, 2 to 1440 (default 5; an online gateway sends its status every minute)');
    if (broker && typeof g.cert === 'string' && g.cert && typeof g.key === 'string' && g.key) gateways = { broker, cert: resolve(baseDir, g.cert), key: resolve(baseDir, g.key), offlineMinutes: minutes as number };
  }

  let auditAnchor: AuditAnchorConfig | undefined;
  if (o.auditAnchor !== undefined) {
    const a = (typeof o.auditAnchor === 'object' && o.auditAnchor !== null && !Array.isArray(o.auditAnchor) ? o.auditAnchor : {}) as Record<string, unknown>;
    for (const k of Object.keys(a)) if (!['key', 'origin', 'witnesses', 'minutes'].includes(k)) bad(`auditAnchor.${k}`, 'unknown key (known: key, origin, witnesses, minutes)');
    if (typeof a.key !== 'string' || a.key === '') bad('auditAnchor.key', "missing: give the PEM file of the desk's Ed25519 key for the audit chain's checkpoints (openssl genpkey -algorithm ed25519 -out desk-audit-key.pem)");
    if (typeof a.origin !== 'string' || !isKeyName(a.origin)) bad('auditAnchor.origin', 'must be the audit chain\u2019s log name, no spaces or +, e.g. "sfj.example.gov.cn/desk-audit"');
    const ws = Array.isArray(a.witnesses) ? (a.witnesses as unknown[]) : [];
    if (ws.length === 0) bad('auditAnchor.witnesses', 'must list at least one witness, [{"url": "https://witness.example:8443", "vkey": "<its witness.vkey>"}]');
    ws.forEach((w, i) => {
      const r = (typeof w === 'object' && w !== null ? w : {}) as Record<string, unknown>;
      if (typeof r.url !== 'string' || !/^https?:\/\//.test(r.url)) bad(`auditAnchor.witnesses[${i}].url`, 'must be the witness\u2019s http(s):// address');
      if (typeof r.vkey !== 'string' || r.vkey === '') bad(`auditAnchor.witnesses[${i}].vkey`, 'missing: give the witness.vkey that recgw witness init printed');
    });
    const minutes = a.minutes ?? 10;
    if (!Number.isInteger(minutes) || (minutes as number) < 1 || (minutes as number) > 1440) bad('auditAnchor.minutes', 'must be whole minutes, 1 to 1440 (default 10): how often the chain\u2019s head is offered to the witnesses');
    if (typeof a.key === 'string' && a.key !== '' && typeof a.origin === 'string') {
      auditAnchor = { key: resolve(baseDir, a.key), origin: a.origin, witnesses: ws.map((w) => w as { url: string; vkey: string }), minutes: minutes as number };
    }
  }

  let retention: { years: number } | undefined;
  if (o.retention !== undefined) {
    const r = (typeof o.retention === 'object' && o.retention !== null && !Array.isArray(o.retention) ? o.retention : {}) as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k !== 'years') bad(`retention.${k}`, 'unknown key (known: years)');
    if (!Number.isInteger(r.years) || (r.years as number) < MIN_TERM_YEARS || (r.years as number) > 100) {
      bad('retention.years', `must be a whole number of years, at least ${MIN_TERM_YEARS} (the minimum: recordings not used as evidence are kept at least one year, 004 规定 §10, 制度 §16) and at most 100; got ${JSON.stringify(r.years)}`);
    } else retention = { years: r.years as number };
  }

  if (problems.length > 0) throw new RecgwError('config', `${file} is not valid:\n  ${problems.join('\n  ')}`);
  return {
    database,
    listen: { host, port: port as number },
    tls: { cert: resolve(baseDir, tls.cert as string), key: resolve(baseDir, tls.key as string) },
    zone: zone as string,
    login: { attempts: attempts as number, windowSeconds: windowSeconds as number },
    ca: resolve(baseDir, o.ca as string),
    store: o.store === undefined ? undefined : isS3Location(o.store as string) ? (o.store as string) : resolve(baseDir, o.store as string),
    s3: o.s3 === undefined ? undefined : s3AccessOf(o.s3 as S3Block, (p) => resolve(baseDir, p), (p) => {
      throw new RecgwError('config', `${file} is not valid:\n  ${p.key}: ${p.message}（${p.zh}）`);
    }),
    sampleSigning,
    agencyKey: keyFiles.filter((k): k is string => typeof k === 'string' && k !== '').map((k) => resolve(baseDir, k)),
    units: o.units === undefined ? undefined : resolve(baseDir, o.units as string),
    gateways,
    auditAnchor,
    retention,
  };
}

export function loadDeskConfig(path: string): DeskConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('config', `the desk config ${path} does not exist: write one (docs/desk.md §1, config/desk.json)`);
    throw new RecgwError('config', `cannot read the desk config ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RecgwError('config', `the desk config ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseDeskConfig(raw, dirname(resolve(path)), `the desk config ${path}`);
}

/** The certificate and key the config names, read now (a missing file is a config error naming it). */
export function readDeskTls(c: DeskConfig): { cert: string; key: string } {
  const read = (p: string, what: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw new RecgwError('config', `cannot read the desk's ${what} ${p} (tls in the desk config): ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: read(c.tls.cert, 'certificate'), key: read(c.tls.key, 'private key') };
}

/**
 * The signer of sample-check reports the config names (sampleSigning), read and checked now: the key readable by its
 * owner only, an RSA or EC private key, the certificate a PEM certificate of that very key. Undefined when the config
 * names none. Every problem is a config error naming the key and the fix.
 */
export function readSampleSigner(c: DeskConfig): Signer | undefined {
  if (!c.sampleSigning) return undefined;
  const { key: keyPath, cert: certPath } = c.sampleSigning;
  const fail = (key: string, what: string, cause?: unknown): never => {
    throw new RecgwError('config', `sampleSigning.${key} in the desk config: ${what}`, cause === undefined ? undefined : { cause });
  };
  const read = (p: string, key: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      return fail(key, `cannot read ${p} (${(err as Error).message}): give the PEM file the agency issued for signing sample-check reports`, err);
    }
  };
  const keyPem = read(keyPath, 'key');
  const mode = statSync(keyPath).mode & 0o777;
  if (mode & 0o077) fail('key', `${keyPath} is readable by others (mode ${mode.toString(8)}): run chmod 600 ${keyPath}`);
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    fail('key', `${keyPath} is not a PEM private key (unencrypted PKCS#8 or PKCS#1/SEC1): give the key file, not the certificate`, err);
  }
  // SM2 (a gm agency's desk-cert) signs SM2 over SM3 (KeySigner); Node names no type for it.
  if (key!.asymmetricKeyType !== 'rsa' && key!.asymmetricKeyType !== 'ec' && !isSm2Key(key!)) fail('key', `${keyPath} is an ${String(key!.asymmetricKeyType)} key: the reports are signed with SHA-256 by an RSA or EC key, or SM2 over SM3 by an SM2 key; ask the agency for one`);
  const certPem = read(certPath, 'cert');
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    fail('cert', `${certPath} is not a PEM certificate: give the certificate the agency issued for the signing key`, err);
  }
  if (!cert!.checkPrivateKey(key!)) fail('cert', `${certPath} is not the certificate of the key ${keyPath}: give the certificate issued for that key (or the key it certifies)`);
  return new KeySigner(key!, certPem);
}

/** The agency's private decryption keys the config names (agencyKey), read and checked now; none when it names none. */
export function readAgencyKeys(c: DeskConfig): KeyObject[] {
  return c.agencyKey.map((f) => {
    try {
      return loadPrivateKey(f, 'the agency private key', 'give agency-key.pem from the agency CA folder');
    } catch (err) {
      throw new RecgwError('config', `agencyKey in the desk config: ${(err as Error).message}`, { cause: err });
    }
  });
}
