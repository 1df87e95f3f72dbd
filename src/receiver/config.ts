/** The receiver's config file: where it stores, which broker, and its keys. Checked at start like the gateway's. */
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { configInvalid, problemsOf, readJsonConfig } from '../config/load.js';
import { SHARE_GROUP } from '../uplink/wire.js';

export interface ReceiverConfig {
  file: string;
  /** The receiver's name: the CN of its client certificate, named in the broker ACL and in its receipts. */
  name: string;
  store: string;
  broker: string;
  protocolVersion: 4 | 5;
  /** The shared-subscription group; null subscribes plainly (a single receiver, or a broker without $share). */
  shareGroup: string | null;
  tls: { cert: string; key: string };
  /** `encryptionCerts`: the agency's current encryption certificates; manifests must be wrapped for one of them. */
  agency: { caCert: string; receiptKey: string; receiptCert: string; encryptionCerts: string[] };
}

const path = { type: 'string', minLength: 1 } as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'store', 'broker', 'tls', 'agency'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    store: path,
    broker: { type: 'string', pattern: '^(mqtts|mqtt|tls|tcp)://' },
    protocolVersion: { enum: [4, 5], default: 5 },
    shareGroup: { type: ['string', 'null'], pattern: '^[A-Za-z0-9_-]{1,64}$', default: SHARE_GROUP },
    tls: { type: 'object', additionalProperties: false, required: ['cert', 'key'], properties: { cert: path, key: path } },
    agency: {
      type: 'object',
      additionalProperties: false,
      required: ['caCert', 'receiptKey', 'receiptCert', 'encryptionCerts'],
      properties: { caCert: path, receiptKey: path, receiptCert: path, encryptionCerts: { type: 'array', minItems: 1, items: path } },
    },
  },
} as const;

let validate: ReturnType<Ajv['compile']> | undefined;

export function parseReceiverConfig(obj: unknown, file: string): ReceiverConfig {
  validate ??= new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile(schema);
  if (!validate(obj)) throw configInvalid(file, problemsOf(validate.errors));
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
      encryptionCerts: c.agency.encryptionCerts.map(abs),
    },
  };
}

export const loadReceiverConfig = (file: string): ReceiverConfig => parseReceiverConfig(readJsonConfig(file), file);
