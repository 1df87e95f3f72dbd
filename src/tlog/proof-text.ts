/**
 * Inclusion proofs as text (c2sp.org/tlog-proof@v1): "c2sp.org/tlog-proof@v1", "index N", the proof hashes one per
 * line in base64 bottom up, a blank line, then the signed checkpoint verbatim. Self-contained: with the log's key and
 * the leaf, anyone checks it offline.
 */
import { HASH_SIZE } from './merkle.js';

export const PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

export interface ProofText {
  index: number;
  hashes: Buffer[];
  /** The signed checkpoint note, as it was. */
  checkpoint: string;
}

export function formatProof(p: ProofText): string {
  return [PROOF_HEADER, `index ${p.index}`, ...p.hashes.map((h) => h.toString('base64')), ''].join('\n') + '\n' + p.checkpoint;
}

export function parseProof(s: string): ProofText | { why: string } {
  const lines = s.split('\n');
  if (lines[0] !== PROOF_HEADER) return { why: `it does not begin with ${PROOF_HEADER}` };
  let i = 1;
  if (lines[i]?.startsWith('extra ')) i++;
  const m = /^index (0|[1-9][0-9]{0,15})$/.exec(lines[i] ?? '');
  if (!m) return { why: 'the index line is missing or not a decimal number' };
  const index = Number(m[1]);
  const hashes: Buffer[] = [];
  for (i++; i < lines.length && lines[i] !== ''; i++) {
    const h = Buffer.from(lines[i]!, 'base64');
    if (h.length !== HASH_SIZE || h.toString('base64') !== lines[i]) return { why: `proof line ${JSON.stringify(lines[i])} is not base64 of 32 bytes` };
    if (hashes.length >= 63) return { why: 'more than 63 proof hashes' };
    hashes.push(h);
  }
  if (i >= lines.length) return { why: 'no blank line before the checkpoint' };
  return { index, hashes, checkpoint: lines.slice(i + 1).join('\n') };
}
