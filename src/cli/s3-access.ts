/**
 * The S3 service of a command given an `s3://BUCKET/PREFIX` store (`recgw verify`, `recgw index rebuild`, `recgw
 * package build`): the
 * endpoint, region and CA from the command line, the keys from the environment (never the command line, where
 * other users could read them).
 */
import { RecgwError } from '../util/errors.js';
import type { S3Access } from '../store/open-store.js';
import { readText } from './args.js';

/** The --s3-* options, for parse(). */
export const S3_OPTIONS = {
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
  's3-ca': { type: 'string' },
} as const;

/** The usage text's part for an S3 store. */
export const S3_USAGE = 's3://BUCKET/PREFIX --s3-endpoint URL [--s3-region R] [--s3-ca ca.pem]';
export const S3_KEYS_NOTE = '(an S3 store: the access key and secret key from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';

export function s3Access(values: { 's3-endpoint'?: string; 's3-region'?: string; 's3-ca'?: string }, usage: string): S3Access {
  const endpoint = values['s3-endpoint'];
  if (!endpoint || !/^https?:\/\//.test(endpoint)) throw new RecgwError('usage', `an s3:// store needs --s3-endpoint http(s)://HOST:PORT\nusage: ${usage}`);
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new RecgwError('usage', 'an s3:// store needs its access key and secret key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (kept off the command line, where other users could read them)');
  }
  const region = values['s3-region'];
  const ca = values['s3-ca'];
  return { endpoint, accessKeyId, secretAccessKey, ...(region ? { region } : {}), ...(ca ? { ca: readText(ca, 'S3 CA certificate') } : {}) };
}

/** A folder's --s3-* options are a mistake, said rather than ignored. */
export function noS3Flags(values: Record<string, unknown>, store: string): void {
  const given = Object.keys(S3_OPTIONS).filter((k) => values[k] !== undefined);
  if (given.length > 0) throw new RecgwError('usage', `--${given[0]} is for an s3:// store; ${store} is a folder`);
}
