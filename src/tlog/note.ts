/**
 * C2SP signed notes (c2sp.org/signed-note): text, a blank line, and lines "— <key name> base64(key ID || sig)".
 * Only the two signature types recgw needs: Ed25519 (0x01, the log's checkpoints) and timestamped Ed25519
 * cosignatures (0x04, witnesses; c2sp.org/tlog-cosignature). No npm package implements signed notes; Go's
 * golang.org/x/mod/sumdb/note is the reference, and the format is small enough to follow from the spec.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

export interface NoteSignature {
  name: string;
  /** The 4-byte key ID, as a big-endian integer. */
  keyId: number;
  /** The signature bytes after the key ID. */
  sig: Buffer;
}

export interface Note {
  /** The signed text, ending in a newline. */
  text: string;
  sigs: NoteSignature[];
}

const NAME_RE = /^[^\s+]+$/u;
const MAX_SIGS = 64;

export function isKeyName(name: string): boolean {
  return NAME_RE.test(name);
}

/** SHA-256(name || "\n" || type || public key)[:4], big-endian. */
export function keyIdOf(name: string, type: number, rawPublicKey: Uint8Array): number {
  return createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, type)).update(rawPublicKey).digest().readUInt32BE(0);
}

/** Raw public keys by KeyObject (immutable): exporting one costs about 0.1 ms, and every signature check needs it. */
const rawKeys = new WeakMap<KeyObject, Buffer>();

/** The 32 raw bytes of an Ed25519 public key. */
export function rawEd25519(key: KeyObject): Buffer {
  const known = rawKeys.get(key);
  if (known) return Buffer.from(known);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new TypeError(`not an Ed25519 key (${String(pub.asymmetricKeyType)})`);
  // The SPKI DER of an Ed25519 key is a fixed 12-byte header followed by the 32 key bytes.
  const raw = pub.export({ format: 'der', type: 'spki' }).subarray(12);
  rawKeys.set(key, Buffer.from(raw));
  return raw;
}

export function ed25519FromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
}

/** A verifier key: "<name>+<hex key ID>+<base64(type || public key)>" (signed-note "Verifier keys"). */
export interface Vkey {
  name: string;
  keyId: number;
  type: number;
  key: KeyObject;
}

export function formatVkey(name: string, type: number, key: KeyObject): string {
  const raw = rawEd25519(key);
  const id = keyIdOf(name, type, raw).toString(16).padStart(8, '0');
  return `${name}+${id}+${Buffer.concat([Buffer.of(type), raw]).toString('base64')}`;
}

/** Parse a vkey; undefined with a reason in `why` when it is not one this module can use. */
export function parseVkey(text: string): Vkey | { why: string } {
  // The name holds no '+', the key ID is 8 hex digits; the base64 key after them may hold '+' itself.
  const m = /^([^+]+)\+([^+]*)\+(.*)$/s.exec(text.trim());
  if (!m) return { why: 'a verifier key is <name>+<key ID>+<key>' };
  const [, name, hex, b64] = m as unknown as [string, string, string, string];
  if (!isKeyName(name)) return { why: `${JSON.stringify(name)} is not a key name (no spaces or +)` };
  if (!/^[0-9a-f]{8}$/.test(hex)) return { why: 'the key ID is not 8 hex digits' };
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64 || bytes.length !== 33) return { why: 'the key is not base64 of a type byte and 32 key bytes' };
  const type = bytes[0]!;
  if (type !== SIG_ED25519 && type !== SIG_COSIGNATURE_V1) return { why: `signature type 0x${type.toString(16)} is not supported (only Ed25519 0x01 and cosignature/v1 0x04)` };
  const raw = bytes.subarray(1);
  const keyId = parseInt(hex, 16);
  if (keyIdOf(name, type, raw) !== keyId) return { why: 'the key ID does not match the name and key' };
  return { name, keyId, type, key: ed25519FromRaw(raw) };
}

/** Parse a signed note. Never throws: a text that is not one gives the reason. */
export function parseNote(s: string): Note | { why: string } {
  // The spec forbids control characters other than newline.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(s)) return { why: 'it contains control characters' };
  const split = s.lastIndexOf('\n\n');
  if (split < 0) return { why: 'there is no blank line between the text and the signatures' };
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block === '') return { why: 'it has no signature' };
  if (!block.endsWith('\n')) return { why: 'the last signature line does not end in a newline' };
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGS) return { why: `more than ${MAX_SIGS} signatures` };
  const sigs: NoteSignature[] = [];
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m || !isKeyName(m[1]!)) return { why: `${JSON.stringify(line.slice(0, 80))} is not a signature line (— <name> <base64>)` };
    const bytes = Buffer.from(m[2]!, 'base64');
    if (bytes.length < 5) return { why: 'a signature is shorter than a key ID' };
    sigs.push({ name: m[1]!, keyId: bytes.readUInt32BE(0), sig: bytes.subarray(4) });
  }
  if (sigs.length === 0) return { why: 'it has no signature' };
  return { text, sigs };
}

export function formatNote(n: Note): string {
  return n.text + '\n' + n.sigs.map(sigLine).join('');
}

export const sigLine = (s: NoteSignature): string => {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(s.keyId >>> 0);
  return `\u2014 ${s.name} ${Buffer.concat([id, s.sig]).toString('base64')}\n`;
};

/** A log's note signer: an Ed25519 key and its name (the log's origin). */
export class NoteSigner {
  readonly keyId: number;
  readonly vkey: string;

  constructor(
    readonly name: string,
    private readonly key: KeyObject,
  ) {
    if (!isKeyName(name)) throw new TypeError(`${JSON.stringify(name)} cannot be a note key name (no spaces or +)`);
    const pub = createPublicKey(key);
    this.keyId = keyIdOf(name, SIG_ED25519, rawEd25519(pub));
    this.vkey = formatVkey(name, SIG_ED25519, pub);
  }

  static fromPem(name: string, pem: string): NoteSigner {
    return new NoteSigner(name, createPrivateKey(pem));
  }

  sign(text: string): NoteSignature {
    return { name: this.name, keyId: this.keyId, sig: sign(null, Buffer.from(text, 'utf8'), this.key) };
  }
}

/** Does `n` carry a valid Ed25519 signature by this (name, key)? Signatures of other keys are ignored. */
export function hasValidSignature(n: Note, name: string, key: KeyObject): boolean {
  const id = keyIdOf(name, SIG_ED25519, rawEd25519(key));
  const mine = n.sigs.filter((s) => s.name === name && s.keyId === id);
  // The spec: a signature from a known key that fails rejects the whole note.
  return mine.length > 0 && mine.every((s) => verifyEd25519(n.text, s.sig, key));
}

export function verifyEd25519(text: string, sig: Uint8Array, key: KeyObject): boolean {
  try {
    return sig.length === 64 && verify(null, Buffer.from(text, 'utf8'), key, sig);
  } catch {
    return false;
  }
}
