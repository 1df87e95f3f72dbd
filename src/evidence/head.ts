/**
 * head.json: a signed statement of the last entry of a device's ledger ("this ledger has N+1 entries ending in
 * hash H"). Without it a ledger cut short at a line boundary would still be a valid chain. The device signs the
 * head of its own export; the receiver signs the head of what it has stored with the agency receipt key.
 */
import { canonicalJson } from '../util/canonical.js';
import type { Signer } from './signer.js';

export interface Head {
  v: 1;
  device: string;
  seq: number;
  hash: string;
  time: string;
  /** Who signs: the device itself, or the agency's receiver (receipt key). */
  signer: 'device' | 'agency';
  /** "gm" when signed SM2 over SM3 (evidence-format.md §17); absent for intl, and in gm heads written before 2026-12-07. */
  suite?: 'gm';
  cert: string;
  sig: string;
}

export const HEAD_FILE = 'head.json';
export const LEDGER_FILE = 'ledger.jsonl';
export const SEGMENTS_DIR = 'segments';

/** The signed bytes: the head without `sig`, canonical JSON. */
export function headSignedBytes(h: Omit<Head, 'sig'>): Buffer {
  const { v, device, seq, hash, time, signer, suite, cert } = h;
  return Buffer.from(canonicalJson({ v, device, seq, hash, time, signer, ...(suite === undefined ? {} : { suite }), cert }), 'utf8');
}

export function makeHead(fields: Omit<Head, 'sig' | 'cert' | 'v' | 'suite'>, signer: Signer): Head {
  const unsigned = { v: 1 as const, ...fields, ...(signer.suite === 'gm' ? { suite: 'gm' as const } : {}), cert: signer.certificatePem };
  return { ...unsigned, sig: signer.sign(headSignedBytes(unsigned)).toString('base64') };
}

export function encodeHead(h: Head): string {
  return canonicalJson(h) + '\n';
}
