/**
 * The `s3` block of a config naming an `s3://BUCKET/PREFIX` store (the receiver's and the desk's): the same keys,
 * the same checks and the same problems (English and Chinese) for both, and the S3Access it gives.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { problemsOf, type ConfigProblem } from '../config/problems.js';
import { isS3Location, parseS3Location, type S3Access } from './open-store.js';

/** The block as written: the keys, never the secret in a message. */
export interface S3Block {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  caCert?: string;
}

/** The block's JSON schema properties; a config may add its own (the receiver's partMiB). */
export const S3_BLOCK_PROPERTIES = {
  endpoint: { type: 'string', pattern: '^https?://' },
  accessKey: { type: 'string', minLength: 1 },
  secretKey: { type: 'string', minLength: 1 },
  region: { type: 'string', minLength: 1 },
  caCert: { type: 'string', minLength: 1 },
} as const;

export const S3_BLOCK_REQUIRED = ['endpoint', 'accessKey', 'secretKey'] as const;

let validate: ReturnType<Ajv['compile']> | undefined;

/** The problems of a block alone (a config checked by hand, the desk's), keyed `s3.…`. */
export function s3BlockProblems(block: unknown): ConfigProblem[] {
  validate ??= new Ajv({ allErrors: true, strict: true }).compile({ type: 'object', additionalProperties: false, required: S3_BLOCK_REQUIRED, properties: S3_BLOCK_PROPERTIES });
  if (validate(block)) return [];
  return problemsOf(validate.errors).map((p) => ({ ...p, key: p.key === '(top level)' ? 's3' : `s3.${p.key}` }));
}

/**
 * The store's location against the block. `blockWithoutStore`: where the location may come later (the desk's, from
 * the index), a block with no store in the config is allowed: it serves an s3:// location recorded there.
 */
export function s3Problem(c: { store?: string; s3?: unknown }, blockWithoutStore = false): ConfigProblem | undefined {
  if (c.store === undefined || !isS3Location(c.store)) {
    if (!c.s3 || (blockWithoutStore && c.store === undefined)) return undefined;
    return { key: 's3', message: `the store ${c.store} is a folder: s3 is only for an s3://BUCKET/PREFIX store`, zh: '存储为目录时不应填写 s3；s3 仅用于 s3://存储桶/前缀 形式的存储' };
  }
  try {
    parseS3Location(c.store);
  } catch (err) {
    return { key: 'store', message: (err as Error).message, zh: '对象存储位置应写作 s3://存储桶/前缀' };
  }
  if (!c.s3) return { key: 's3', message: `the store ${c.store} is in S3: give s3 {endpoint, accessKey, secretKey}`, zh: '存储位于对象存储（S3）：请填写 s3 的 endpoint、accessKey、secretKey' };
  return undefined;
}

/**
 * The service a checked block names, its CA read now (relative paths through `abs`); a CA that cannot be read is
 * the problem `s3.caCert`, thrown by `fail`.
 */
export function s3AccessOf(b: S3Block, abs: (p: string) => string, fail: (p: ConfigProblem) => never): S3Access {
  return {
    endpoint: b.endpoint,
    accessKeyId: b.accessKey,
    secretAccessKey: b.secretKey,
    ...(b.region ? { region: b.region } : {}),
    ...(b.caCert ? { ca: readCa(abs(b.caCert), fail) } : {}),
  };
}

function readCa(path: string, fail: (p: ConfigProblem) => never): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return fail({ key: 's3.caCert', message: `cannot read ${path} (${(err as Error).message}): give the PEM of the CA that issued the S3 endpoint's certificate`, zh: `无法读取 ${path}：请提供签发 S3 服务证书的 CA（PEM）` });
  }
}

