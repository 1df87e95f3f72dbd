/** The receiver's config file: where it stores, which broker, and its keys. Checked at start like the gateway's. */
import { dirname, isAbsolute, resolve } from 'node:path';
import { limitsSchema, type LimitsConfig } from './limits.js';
import { Ajv } from 'ajv';
import { configInvalid, problemsOf, readJsonConfig, type ConfigProblem } from '../config/load.js';
import { SHARE_GROUP } from '../uplink/wire.js';
import { RECEIVER_NAME_PATTERN, receiverNameProblem } from '../pki/names.js';

export interface ReceiverConfig {
  file: string;
  /**
   * The receiver's name (`receiver:<label>`, pki/names.ts): the CN of its client certificate, its `user` in the
   * broker ACL and the `receiver` of its receipts.
   */
  name: string;
  store: string;
  /** What one device may cost the shared store (limits.ts). */
  limits: LimitsConfig;
  broker: string;
  protocolVersion: 4 | 5;
  /** The shared-subscription group; null subscribes plainly (a single receiver, or a broker without $share). */
  shareGroup: string | null;
  tls: { cert: string; key: string };
  /**
   * The agency's keys: the CA, the receipt key and certificate, the log's checkpoint key and certificate, the current
   * encryption certificates (manifests must be wrapped for one of them), and the CA's CRL.
   */
  agency: { caCert: string; receiptKey: string; receiptCert: string; logKey: string; logCert: string; encryptionCerts: string[]; crl?: string };
  /** Witnesses asked to cosign the log's checkpoints: their add-checkpoint URL prefix and verifier key. */
  witnesses: { url: string; vkey: string }[];
}

const path = { type: 'string', minLength: 1 } as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'store', 'broker', 'tls', 'agency'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: RECEIVER_NAME_PATTERN },
    store: path,
    broker: { type: 'string', pattern: '^(mqtts|mqtt|tls|tcp)://' },
    protocolVersion: { enum: [4, 5], default: 5 },
    limits: limitsSchema,
    shareGroup: { type: ['string', 'null'], pattern: '^[A-Za-z0-9_-]{1,64}$', default: SHARE_GROUP },
    tls: { type: 'object', additionalProperties: false, required: ['cert', 'key'], properties: { cert: path, key: path } },
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

export function parseReceiverConfig(obj: unknown, file: string): ReceiverConfig {
  validate ??= new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile(schema);
  if (!validate(obj)) throw configInvalid(file, problemsOf(validate.errors).map((p) => (p.key === 'name' ? nameProblem(obj, p) : p)));
  const c = obj as Omit<ReceiverConfig, 'file'>;
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...c,
    file: resolve(file),
    store: abs(c.store),
    tls: { cert: abs(c.tls.cert), key: abs(c.tls.key) },
    agency: {
      caCert: abs(c.agency.caCert),
      receiptKey: abs(c.agency.receiptKey),
      receiptCert: abs(c.agency.receiptCert),
      logKey: abs(c.agency.logKey),
      logCert: abs(c.agency.logCert),
      encryptionCerts: c.agency.encryptionCerts.map(abs),
      ...(c.agency.crl ? { crl: abs(c.agency.crl) } : {}),
    },
  };
}

export const loadReceiverConfig = (file: string): ReceiverConfig => parseReceiverConfig(readJsonConfig(file), file);
