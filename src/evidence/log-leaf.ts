/**
 * What the agency's transparency log holds (evidence-format.md §15): one leaf per ledger entry the receiver
 * stored and one per sealed file it stored, each with the receiver's clock at acceptance (a time the device cannot
 * choose). A leaf is the canonical JSON of one of these objects.
 */
import { canonicalJson } from '../util/canonical.js';
import type { Receipt } from './receipt.js';

/** Where a store keeps the agency log (c2sp.org/tlog-tiles files), and the log key's certificate in it. */
export const LOG_DIR = 'log';
export const LOG_CERT_FILE = 'log-cert.pem';
/** A gm log's SM2 certificate (evidence-format.md §17.9): the key of its checkpoints' SM2 line. */
export const LOG_SM2_CERT_FILE = 'log-sm2-cert.pem';
/** Where a receiver keeps a device's ledger branch a newer certificate superseded (evidence-format.md §5.6). */
export const SUPERSEDED_DIR = 'superseded';
/** The newest checkpoint that witnesses cosigned, with their cosignatures. */
export const WITNESSED_FILE = 'witnessed';

export interface EntryLeaf {
  v: 1;
  kind: 'entry';
  device: string;
  seq: number;
  /** The entry's chain hash (SHA-256 of its ledger line). */
  hash: string;
  accepted: string;
}

export interface SegmentLeaf {
  v: 1;
  kind: 'segment';
  device: string;
  name: string;
  size: number;
  sha256: string;
  manifestSeq: number;
  accepted: string;
}

/** A device's stored ledger from `from` to `through` was superseded by a newer certificate's branch (§5.6). */
export interface SupersededLeaf {
  v: 1;
  kind: 'superseded';
  device: string;
  from: number;
  through: number;
  /** The chain hash of the first superseded entry, and of the certificate.installed line that won. */
  hash: string;
  by: string;
  accepted: string;
}

/** A retention deletion the agency signed (deletion-event.ts): `hash` is the SHA-256 of its deletions.jsonl line. */
export interface DeletionLeaf {
  v: 1;
  kind: 'deletion';
  device: string;
  hash: string;
  accepted: string;
}

export type LogLeaf = EntryLeaf | SegmentLeaf | SupersededLeaf | DeletionLeaf;

export const encodeLeaf = (l: LogLeaf): Buffer => Buffer.from(canonicalJson(l), 'utf8');

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const str = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** Parse a leaf; it must be exactly the canonical JSON of a known leaf, or the reason why not. */
export function parseLeaf(buf: Uint8Array): LogLeaf | { why: string } {
  const text = Buffer.from(buf).toString('utf8');
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { why: 'it is not JSON' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o.v !== 1) return { why: 'it is not a version 1 leaf object' };
  if (!str(o.device) || !(typeof o.accepted === 'string' && ISO_MS.test(o.accepted))) return { why: 'it lacks device or accepted' };
  let leaf: LogLeaf;
  if (o.kind === 'entry') {
    if (!count(o.seq) || typeof o.hash !== 'string' || !HEX64.test(o.hash)) return { why: 'an entry leaf needs seq and a hex hash' };
    leaf = { v: 1, kind: 'entry', device: o.device, seq: o.seq, hash: o.hash, accepted: o.accepted };
  } else if (o.kind === 'segment') {
    if (!str(o.name) || !count(o.size) || typeof o.sha256 !== 'string' || !HEX64.test(o.sha256) || !count(o.manifestSeq)) {
      return { why: 'a segment leaf needs name, size, sha256 and manifestSeq' };
    }
    leaf = { v: 1, kind: 'segment', device: o.device, name: o.name, size: o.size, sha256: o.sha256, manifestSeq: o.manifestSeq, accepted: o.accepted };
  } else if (o.kind === 'superseded') {
    if (!count(o.from) || !count(o.through) || typeof o.hash !== 'string' || !HEX64.test(o.hash) || typeof o.by !== 'string' || !HEX64.test(o.by)) {
      return { why: 'a superseded leaf needs from, through, hash and by' };
    }
    leaf = { v: 1, kind: 'superseded', device: o.device, from: o.from, through: o.through, hash: o.hash, by: o.by, accepted: o.accepted };
  } else if (o.kind === 'deletion') {
    if (typeof o.hash !== 'string' || !HEX64.test(o.hash)) return { why: 'a deletion leaf needs a hex hash' };
    leaf = { v: 1, kind: 'deletion', device: o.device, hash: o.hash, accepted: o.accepted };
  } else {
    return { why: `unknown leaf kind ${JSON.stringify(o.kind)}` };
  }
  return canonicalJson(leaf) === text ? leaf : { why: 'it is not in canonical form or has unknown members' };
}

/** The leaf a receipt is about, exactly as the receiver logged it (the receipt's storedAt is the leaf's accepted). */
export function leafOfReceipt(r: Receipt): LogLeaf {
  return r.kind === 'segment'
    ? { v: 1, kind: 'segment', device: r.device, name: r.name, size: r.size, sha256: r.sha256, manifestSeq: r.manifestSeq, accepted: r.storedAt }
    : { v: 1, kind: 'entry', device: r.device, seq: r.through.seq, hash: r.through.hash, accepted: r.storedAt };
}
