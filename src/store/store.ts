/**
 * The evidence store behind one interface: a folder (folder-store.ts) or an S3 bucket under a prefix (s3-store.ts).
 * Both hold the same names with the same bytes (docs/object-store.md): a name is a relative path of `/`-separated
 * parts, `alice-01/segments/0001.seg`. Three kinds of object, because S3 has no rename and no append:
 *
 * - write-once (segments): putOnce() never replaces what is there; writing the same bytes again is a harmless
 *   retry, other bytes are refused;
 * - replaced whole (head.json, crl.pem, the agency log's files, a view of its database): replace(); readers see the
 *   old or the new, never a mix;
 * - append-only (ledger.jsonl, receipts.jsonl, alerts.jsonl, deletions.jsonl): append() at the length the caller knows is committed;
 *   anything past that length was written by a writer that died before committing, and is cut.
 */
import type { Readable } from 'node:stream';
import { RecgwError } from '../util/errors.js';

export type PutResult = 'written' | 'exists';

export interface EvidenceStore {
  /** Where it is, for messages: a folder's absolute path or `s3://bucket/prefix`. */
  readonly location: string;
  /**
   * Write `data` (bytes, or a local file's path) under `name` unless something is there; see PutResult. `md5`: the
   * file's MD5 (base64) when the caller hashed its bytes as they came, so a bucket need not read the file for it;
   * the bucket checks it against what it receives, so a wrong one fails the write and stores nothing.
   */
  putOnce(name: string, data: Buffer | { file: string; md5?: string }): Promise<PutResult>;
  /**
   * Replace `name` whole. `view`: the object is made again from elsewhere when lost (the agency log's tiles, from its
   * database), so a folder need not fsync it.
   */
  replace(name: string, data: Buffer, opts?: { view?: boolean }): Promise<void>;
  /** Append `data` to the append-only `name`, whose committed length is `offset`; cuts anything past it first. */
  append(name: string, offset: number, data: Buffer): Promise<void>;
  /** The whole object (an append-only one as one byte string), or undefined when there is none. */
  read(name: string): Promise<Buffer | undefined>;
  /** The last `bytes` bytes (or fewer: the whole) of an append-only file, and its size; size 0 when there is none. */
  tail(name: string, bytes: number): Promise<{ size: number; data: Buffer }>;
  /** The object's bytes as a stream (an append-only one's pieces one after another); undefined when there is none. */
  stream(name: string): Promise<Readable | undefined>;
  /** Its size in bytes (an append-only one's total), or undefined. */
  size(name: string): Promise<number | undefined>;
  /** What is directly under the folder `dir` ('' for the top): objects by name, folders with a trailing `/`; sorted. */
  list(dir: string): Promise<string[]>;
  /** Remove `name` (nothing if absent): only for the approved deletions and the receiver's own unfinished writes. */
  remove(name: string): Promise<void>;
  /** Remove the folder `dir` and everything under it: only for what may go (the log's partial tiles once full). */
  removeAll(dir: string): Promise<void>;
  /**
   * Before a writer uses the store: refuses (throws) a store where written-once cannot hold, and returns a warning
   * when it cannot tell. A folder always can; a bucket with versioning enabled cannot (s3-store.ts).
   */
  checkWriteOnce(): Promise<string | undefined>;
  /** Close connections. */
  close(): Promise<void>;
}

/** Files kept append-only: held as pieces in a bucket (s3-store.ts), as one file in a folder. */
export const APPEND_ONLY = new Set(['ledger.jsonl', 'receipts.jsonl', 'alerts.jsonl', 'deletions.jsonl']);

export function isAppendOnly(name: string): boolean {
  return APPEND_ONLY.has(name.slice(name.lastIndexOf('/') + 1));
}

const PART = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Check a name before it reaches a path or a key: parts of letters, digits, `.`, `_`, `-`, none `.` or `..` or
 * starting with `-`/`.`... (a name from a device's message must never leave the store or hide as a dot file).
 */
export function checkName(name: string, what = 'object name'): string {
  const parts = name.split('/');
  if (name === '' || parts.some((p) => !PART.test(p) || p === '.' || p === '..' || p.length > 255)) {
    throw new RecgwError('invalid', `${what} ${JSON.stringify(name.slice(0, 300))} is not a store name: parts of letters, digits, '.', '_' and '-' separated by '/', none empty, '.', '..' or starting with '.' or '-'`);
  }
  return name;
}

/** Same check for a folder given to list(): '' (the top) or a name, with or without a trailing '/'. */
export function checkDir(dir: string): string {
  const d = dir.replace(/\/$/, '');
  return d === '' ? '' : checkName(d, 'folder');
}
