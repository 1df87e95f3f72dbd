/**
 * Checkpoints (c2sp.org/tlog-checkpoint): the note text "<origin>\n<size>\n<base64 root>\n", signed by the log
 * (Ed25519 signed note) and cosigned by witnesses (c2sp.org/tlog-cosignature, cosignature/v1).
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { HASH_SIZE } from './merkle.js';
import { SIG_COSIGNATURE_V1, formatNote, hasValidSignature, keyIdOf, parseNote, rawEd25519, type Note, type NoteSignature, type NoteSigner } from './note.js';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export const checkpointText = (c: Checkpoint): string => `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n`;

/** Parse a checkpoint's note text (extension lines are kept out of recgw's checkpoints and refused here). */
export function parseCheckpointText(text: string): Checkpoint | { why: string } {
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[3] !== '') return { why: 'a checkpoint text is exactly three lines: origin, size, root' };
  const [origin, size, root] = lines as [string, string, string];
  if (origin === '') return { why: 'the origin line is empty' };
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) return { why: `the size line ${JSON.stringify(size)} is not a decimal number` };
  const r = Buffer.from(root, 'base64');
  if (r.length !== HASH_SIZE || r.toString('base64') !== root) return { why: 'the root line is not base64 of 32 bytes' };
  return { origin, size: Number(size), root: r };
}

export interface SignedCheckpoint extends Checkpoint {
  note: Note;
}

/** Anything that signs a note text under a key name: the log's Ed25519 NoteSigner, and a gm log's Sm2NoteSigner. */
export interface TextSigner {
  sign(text: string): NoteSignature;
}

/** Sign a checkpoint with the log's key, then any further keys (a gm log's SM2 key), in that order. */
export function signCheckpoint(c: Checkpoint, signer: NoteSigner, ...more: TextSigner[]): SignedCheckpoint {
  const text = checkpointText(c);
  return { ...c, note: { text, sigs: [signer, ...more].map((s) => s.sign(text)) } };
}

export const formatCheckpoint = (c: SignedCheckpoint): string => formatNote(c.note);

/**
 * Parse a signed checkpoint and check the log's signature: `name` is the log's key name (its origin) and `key` its
 * Ed25519 public key. Other signatures (witnesses') are kept for checkCosignatures.
 */
export function openCheckpoint(s: string, name: string, key: KeyObject): SignedCheckpoint | { why: string } {
  const n = parseNote(s);
  if ('why' in n) return { why: `not a signed note: ${n.why}` };
  const c = parseCheckpointText(n.text);
  if ('why' in c) return c;
  if (c.origin !== name) return { why: `the checkpoint is for log ${JSON.stringify(c.origin)}, not ${JSON.stringify(name)}` };
  if (!hasValidSignature(n, name, key)) return { why: `the checkpoint carries no valid signature of log ${name}` };
  return { ...c, note: n };
}

/** The message a cosignature/v1 signs: a header, the time, and the checkpoint's note text. */
const cosignedMessage = (text: string, time: number): Buffer => Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');

/** A witness's cosignature of a checkpoint text at `time` (POSIX seconds). */
export function cosign(text: string, name: string, key: KeyObject, time: number): NoteSignature {
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(time));
  const sig = sign(null, cosignedMessage(text, time), key);
  return { name, keyId: keyIdOf(name, SIG_COSIGNATURE_V1, rawEd25519(key)), sig: Buffer.concat([ts, sig]) };
}

export interface WitnessKey {
  name: string;
  key: KeyObject;
}

export interface Cosigned {
  name: string;
  /** When the witness cosigned (POSIX seconds). */
  time: number;
}

/**
 * The cosignatures in a checkpoint note by the given witnesses that verify; a signature line of a known witness that
 * fails makes the answer name it in `bad` (the spec: a failing known signature rejects the note for that witness).
 */
export function checkCosignatures(n: Note, witnesses: WitnessKey[]): { ok: Cosigned[]; bad: string[] } {
  const ok: Cosigned[] = [];
  const bad: string[] = [];
  for (const w of witnesses) {
    const id = keyIdOf(w.name, SIG_COSIGNATURE_V1, rawEd25519(w.key));
    for (const s of n.sigs.filter((x) => x.name === w.name && x.keyId === id)) {
      const time = s.sig.length === 72 ? Number(s.sig.readBigUInt64BE(0)) : -1;
      let valid: boolean;
      try {
        valid = time >= 0 && verify(null, cosignedMessage(n.text, time), w.key, s.sig.subarray(8));
      } catch {
        valid = false;
      }
      if (valid) ok.push({ name: w.name, time });
      else bad.push(w.name);
    }
  }
  return { ok, bad };
}
