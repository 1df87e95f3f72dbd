/** The receiver's config file: where it stores, which broker, and its keys. Checked at start like the gateway's. */
import { dirname, isAbsolute, resolve } from 'node:path';
import { limitsSchema, type LimitsConfig } from './limits.js';
import { Ajv } from 'ajv';
import { configInvalid, problemsOf, readJsonConfig, type ConfigProblem } from '../config/load.js';
import { SHARE_GROUP } from '../uplink/wire.js';
import { RECEIVER_NAME_PATTERN, receiverNameProblem } from '../pki/names.js';
import { CA, ENC, readConfigFile, type FileRole } from '../config/files.js';
import { parseDatabaseUrl, redact } from '../index/database.js';
import { isS3Location, type S3Access } from '../store/open-store.js';
import { S3_BLOCK_PROPERTIES, S3_BLOCK_REQUIRED, s3AccessOf, s3Problem, type S3Block } from '../store/s3-config.js';

export interface ReceiverConfig {
  file: string;
  /**
   * The receiver's name (`receiver:<label>`, pki/names.ts): the CN of its client certificate, its `user` in the
   * broker ACL and the `receiver` of its receipts.
   */
  name: string;
  /** The evidence store: a folder, or `s3://BUCKET/PREFIX` (docs/object-store.md) reached with `s3`. */
  store: string;
  /** The S3 service of an `s3://` store, and the size of the parts a segment goes up in (MiB, s3-partials.ts). */
  s3?: S3Access & { partMiB: number };
  /**
   * A folder of this receiver's own working files: chunks of files not yet complete (`.partial/`), `receiver.db`, the
   * name lock. The store's folder by default; required for an S3 store.
   */
  work: string;
  /**
   * The PostgreSQL database receivers on several hosts coordinate through (`postgres://…`: the agency log, the
   * ledger bookkeeping, the name lock); absent, `<store>/receiver.db` (SQLite, receivers on one host). It may hold a
   * password: never log it, say `parseDatabaseUrl(database).where` instead.
   */
  database?: string;
  /** What one device may cost the shared store (limits.ts). */
  limits: LimitsConfig;
  broker: string;
  protocolVersion: 4 | 5;
  /** The shared-subscription group; null subscribes plainly (a single receiver, or a broker without $share). */
  shareGroup: string | null;
  /**
   * This receiver's client certificate and key, and the CA the broker's certificate and this one come from when that
   * is not the agency CA: a gm agency's transport CA (evidence-format.md §17.8), required then.
   */
  tls: { cert: string; key: string; ca?: string };
  /**
   * The agency's keys: the CA, the receipt key and certificate, the log's checkpoint key and certificate, the current
   * encryption certificates (manifests must be wrapped for one of them), and the CA's CRL. Under a gm CA also the
   * log's SM2 key and certificate (log-sm2-key.pem, log-sm2.pem): checkpoints carry an SM2 line too (evidence-format.md §17.9).
   */
  agency: { caCert: string; receiptKey: string; receiptCert: string; logKey: string; logCert: string; logSm2Key?: string; logSm2Cert?: string; encryptionCerts: string[]; crl?: string };
  /** Witnesses asked to cosign the log's checkpoints: their add-checkpoint URL prefix and verifier key. */
  witnesses: { url: string; vkey: string }[];
}

const path = { type: 'string', minLength: 1 } as const;
/** S3's smallest part but the last. */
const MIN_PART_MIB = 5;
/** A segment's part size in a bucket unless `s3.partMiB` says otherwise: a part is one buffer in memory while it goes up. */
const PART_MIB = 8;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'store', 'broker', 'tls', 'agency'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: RECEIVER_NAME_PATTERN },
    store: path,
    work: path,
    s3: {
      type: 'object',
      additionalProperties: false,
      required: S3_BLOCK_REQUIRED,
      properties: { ...S3_BLOCK_PROPERTIES, partMiB: { type: 'integer', minimum: MIN_PART_MIB, maximum: 5120 } },
    },
    database: { type: 'string', minLength: 1 },
    broker: { type: 'string', pattern: '^(mqtts|mqtt|tls|tcp)://' },
    protocolVersion: { enum: [4, 5], default: 5 },
    limits: limitsSchema,
    shareGroup: { type: ['string', 'null'], pattern: '^[A-Za-z0-9_-]{1,64}$', default: SHARE_GROUP },
    tls: { type: 'object', additionalProperties: false, required: ['cert', 'key'], properties: { cert: path, key: path, ca: path } },
    witnesses: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'vkey'],
        properties: { url: { type: 'string', pattern: '^https?://' }, vkey: { type: 'string', pattern: '^[^\\s+]+\\+[0-9a-f]{8}\\+[A-Za-z0-9+/=]+$' } },
      },
    },
    agency: {
      type: 'object',
      additionalProperties: false,
      required: ['caCert', 'receiptKey', 'receiptCert', 'logKey', 'logCert', 'encryptionCerts'],
      properties: {
        caCert: path,
        receiptKey: path,
        receiptCert: path,
        logKey: path,
        logCert: path,
        logSm2Key: path,
        logSm2Cert: path,
        encryptionCerts: { type: 'array', minItems: 1, items: path },
        crl: path,
      },
    },
  },
} as const;

let validate: ReturnType<Ajv['compile']> | undefined;

/** A name outside the receiver namespace says why and what to do, rather than quoting the pattern. */
function nameProblem(obj: unknown, p: ConfigProblem): ConfigProblem {
  const name = (obj as { name?: unknown }).name;
  const why = typeof name === 'string' ? receiverNameProblem(name) : undefined;
  if (!why) return p;
  return {
    key: 'name',
    message: `${why}; its certificate (recgw ca receiver-cert --name) and the broker ACL's \`user\` line carry the same name`,
    zh: `接收端名称必须是 receiver:<标签>（设备编号永远不含冒号，代理按证书 CN 授权）；证书与代理 ACL 的 user 行须用同一名称`,
  };
}

/** `database`, when given, must be a PostgreSQL URL (SQLite is the default, without the key). */
function databaseProblem(url: string | undefined): ConfigProblem | undefined {
  if (url === undefined) return undefined;
  const fix = 'give postgres://USER:PASSWORD@HOST:PORT/DATABASE, or leave the key out to coordinate through <store>/receiver.db (SQLite, receivers on one host)';
  const zh = '请填写 postgres://用户:密码@主机:端口/数据库；不填则使用存储目录下的 receiver.db（SQLite，仅限同一主机上的接收端）';
  let u: ReturnType<typeof parseDatabaseUrl>;
  try {
    u = parseDatabaseUrl(url);
  } catch (err) {
    // The parser's message names the URL with its password replaced.
    return { key: 'database', message: `${(err as Error).message.replace(/: give postgres:.*$/, '')}: ${fix}`, zh };
  }
  if (u.dialect !== 'postgres') return { key: 'database', message: `${JSON.stringify(redact(url))} is not a PostgreSQL URL: ${fix}`, zh };
  return undefined;
}

/** An `s3://` store needs its service (s3-config.ts) and a local working folder; a folder store needs neither. */
function storeProblem(c: { store: string; work?: string; s3?: unknown }): ConfigProblem | undefined {
  const p = s3Problem(c);
  if (p || !isS3Location(c.store) || c.work) return p;
  return { key: 'work', message: `the store ${c.store} is in S3: give work, a local folder for this receiver's unfinished files and its database`, zh: '存储位于对象存储（S3）：请填写 work，本接收端存放未完成文件与数据库的本地目录' };
}

export function parseReceiverConfig(obj: unknown, file: string): ReceiverConfig {
  validate ??= new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile(schema);
  if (!validate(obj)) throw configInvalid(file, problemsOf(validate.errors).map((p) => (p.key === 'name' ? nameProblem(obj, p) : p)));
  const c = obj as Omit<ReceiverConfig, 'file'>;
  const db = databaseProblem(c.database);
  if (db) throw configInvalid(file, [db]);
  const s3 = storeProblem(c);
  if (s3) throw configInvalid(file, [s3]);
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const raw = obj as { s3?: S3Block & { partMiB?: number }; work?: string };
  const store = isS3Location(c.store) ? c.store : abs(c.store);
  return {
    ...c,
    file: resolve(file),
    store,
    work: abs(raw.work ?? store),
    ...(raw.s3
      ? {
          s3: {
            ...s3AccessOf(raw.s3, abs, (p) => {
              throw configInvalid(file, [p]);
            }),
            partMiB: raw.s3.partMiB ?? PART_MIB,
          },
        }
      : {}),
    tls: { cert: abs(c.tls.cert), key: abs(c.tls.key), ...(c.tls.ca ? { ca: abs(c.tls.ca) } : {}) },
    agency: {
      caCert: abs(c.agency.caCert),
      receiptKey: abs(c.agency.receiptKey),
      receiptCert: abs(c.agency.receiptCert),
      logKey: abs(c.agency.logKey),
      logCert: abs(c.agency.logCert),
      ...(c.agency.logSm2Key ? { logSm2Key: abs(c.agency.logSm2Key) } : {}),
      ...(c.agency.logSm2Cert ? { logSm2Cert: abs(c.agency.logSm2Cert) } : {}),
      encryptionCerts: c.agency.encryptionCerts.map(abs),
      ...(c.agency.crl ? { crl: abs(c.agency.crl) } : {}),
    },
  };
}

export const loadReceiverConfig = (file: string): ReceiverConfig => parseReceiverConfig(readJsonConfig(file), file);

/** Each file a receiver config names: its key there, its path, and what it should be. */
function receiverFiles(c: ReceiverConfig): { key: string; path: string; what: FileRole }[] {
  const role = (en: string, zh: string): FileRole => ({ en, zh });
  return [
    { key: 'tls.cert', path: c.tls.cert, what: role(`this receiver's client certificate (\`recgw ca receiver-cert --name ${c.name}\` writes it)`, `本接收端的客户端证书（由 recgw ca receiver-cert 生成）`) },
    { key: 'tls.key', path: c.tls.key, what: role("this receiver's client key (written with its certificate)", '本接收端的客户端私钥（与证书一同生成）') },
    ...(c.tls.ca ? [{ key: 'tls.ca', path: c.tls.ca, what: role("the broker's CA: a gm agency's transport CA (transport/ca.pem)", '消息代理的 CA：国密机构的传输 CA（transport/ca.pem）') }] : []),
    { key: 'agency.caCert', path: c.agency.caCert, what: CA },
    { key: 'agency.receiptKey', path: c.agency.receiptKey, what: role("the agency's receipt signing key (receipt-key.pem)", '执法机构的回执签名私钥（receipt-key.pem）') },
    { key: 'agency.receiptCert', path: c.agency.receiptCert, what: role("the agency's receipt certificate (receipt.pem)", '执法机构的回执证书（receipt.pem）') },
    { key: 'agency.logKey', path: c.agency.logKey, what: role("the agency log's checkpoint key (log-key.pem)", '执法机构日志的检查点私钥（log-key.pem）') },
    { key: 'agency.logCert', path: c.agency.logCert, what: role("the agency log's certificate (log.pem)", '执法机构日志证书（log.pem）') },
    ...(c.agency.logSm2Key ? [{ key: 'agency.logSm2Key', path: c.agency.logSm2Key, what: role("the agency log's SM2 checkpoint key (log-sm2-key.pem)", '执法机构日志的 SM2 检查点私钥（log-sm2-key.pem）') }] : []),
    ...(c.agency.logSm2Cert ? [{ key: 'agency.logSm2Cert', path: c.agency.logSm2Cert, what: role("the agency log's SM2 certificate (log-sm2.pem)", '执法机构日志的 SM2 证书（log-sm2.pem）') }] : []),
    ...c.agency.encryptionCerts.map((path, i) => ({ key: `agency.encryptionCerts[${i}]`, path, what: ENC })),
    ...(c.agency.crl ? [{ key: 'agency.crl', path: c.agency.crl, what: role("the agency CA's CRL (crl.pem; `recgw ca crl` issues it)", '执法机构 CA 的证书吊销列表（crl.pem）') }] : []),
  ];
}

/**
 * The files of a receiver config that are missing or unreadable, each named with its key: checked before the
 * receiver starts and by `recgw config check`, so a missing file is a config error (exit 2), not a stack trace.
 */
export function receiverFileProblems(c: ReceiverConfig): ConfigProblem[] {
  return receiverFiles(c).flatMap(({ key, path, what }) => {
    const r = readConfigFile(key, path, what);
    return r.ok ? [] : [r.problem];
  });
}
