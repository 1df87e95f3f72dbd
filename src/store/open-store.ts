/**
 * A store from its location: `s3://bucket/prefix` (with the S3 service's endpoint and credentials) or a folder path.
 * The one place that chooses the implementation.
 */
import { RecgwError } from '../util/errors.js';
import { FolderStore } from './folder-store.js';
import { S3Store } from './s3-store.js';
import type { EvidenceStore } from './store.js';

export interface S3Access {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** PEM of the CA of an https endpoint. */
  ca?: string;
}

export function isS3Location(location: string): boolean {
  return location.startsWith('s3://');
}

/** `s3://bucket/prefix/` → bucket and a prefix that is '' or ends with '/'. */
export function parseS3Location(location: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(location);
  if (!m) throw new RecgwError('config', `${JSON.stringify(location)} is not an S3 store location: write s3://BUCKET or s3://BUCKET/PREFIX (bucket names: 3-63 of a-z, 0-9, '.', '-')`);
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  if (prefix !== '' && prefix.split('/').some((p) => !/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(p))) {
    throw new RecgwError('config', `the prefix of ${JSON.stringify(location)} must be folder names of letters, digits, '.', '_' and '-' separated by '/'`);
  }
  return { bucket: m[1]!, prefix: prefix === '' ? '' : `${prefix}/` };
}

/** `warn`: where a bucket's background work (compacting append-only files) says what failed. */
export function openStore(location: string, s3?: S3Access, warn?: (message: string) => void): EvidenceStore {
  if (!isS3Location(location)) return new FolderStore(location);
  if (!s3) throw new RecgwError('config', `the store ${location} is in S3: give its endpoint and credentials (s3Endpoint, s3AccessKey, s3SecretKey)`);
  return new S3Store({ ...parseS3Location(location), ...s3, ...(warn ? { warn } : {}) });
}
