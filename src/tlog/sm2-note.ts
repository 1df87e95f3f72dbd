/**
 * The SM2 line of a gm agency log's checkpoints (evidence-format.md §17.9): a second signature under the log's key
 * name, so that an assessor (密评, GB/T 39786) sees SM2 protect the log while witnesses and the C2SP tools keep
 * reading the Ed25519 line. signed-note assigns no type to SM2; its type 0xff is "reserved for signature types
 * without an identifier byte assigned by this specification", to be followed by a longer identifier, here the ASCII
 * SM2_NOTE_IDENTIFIER. Verifiers that do not know the key ignore the line (signed-note: "Verifiers MUST ignore
 * signatures from unknown keys").
 *
 * Key ID = SHA-256(name ‖ 0x0A ‖ 0xff ‖ identifier ‖ SPKI DER of the SM2 public key)[:4]; signature bytes =
 * key ID ‖ DER SM2 signature (GB/T 32918.2, SM3, default ID 1234567812345678) over the note text.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { sm2PrivateKeyFromPem, sm2PublicHex, type Sm2KeyPair } from '../crypto/gm/sm2-keys.js';
import { sm2Sign, sm2Verify } from '../crypto/gm/sm2-sign.js';
import { isKeyName, type Note, type NoteSignature } from './note.js';

export const SIG_EXTENDED = 0xff;
/** What follows the type byte 0xff: names the algorithm (SM2 over SM3, default signer ID) for this project's notes. */
export const SM2_NOTE_IDENTIFIER = 'recgw/sm2-sm3';

/** The key ID of an SM2 note key (`key` public or private; its SPKI DER is hashed). */
export function sm2NoteKeyId(name: string, key: KeyObject): number {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, SIG_EXTENDED)).update(SM2_NOTE_IDENTIFIER, 'ascii').update(spki).digest().readUInt32BE(0);
}

/** Signs note texts with an SM2 key under a key name (the log's origin). */
export class Sm2NoteSigner {
  readonly keyId: number;
  private readonly pair: Sm2KeyPair;

  constructor(
    readonly name: string,
    key: KeyObject,
  ) {
    if (!isKeyName(name)) throw new TypeError(`${JSON.stringify(name)} cannot be a note key name (no spaces or +)`);
    this.pair = sm2PrivateKeyFromPem(key);
    this.keyId = sm2NoteKeyId(name, key);
  }

  sign(text: string): NoteSignature {
    return { name: this.name, keyId: this.keyId, sig: sm2Sign(Buffer.from(text, 'utf8'), this.pair) };
  }
}

/** What a note says of an SM2 key: its line verifies, there is none, or one (at least) does not verify. */
export type Sm2NoteCheck = { state: 'valid'; keyId: number } | { state: 'missing'; keyId: number } | { state: 'bad'; keyId: number };

/**
 * The note's signature lines by this SM2 key (name and key ID). As for a known Ed25519 key, one failing line
 * makes the answer `bad` even if another verifies.
 */
export function checkSm2Signature(n: Note, name: string, key: KeyObject): Sm2NoteCheck {
  const keyId = sm2NoteKeyId(name, key);
  const mine = n.sigs.filter((s) => s.name === name && s.keyId === keyId);
  if (mine.length === 0) return { state: 'missing', keyId };
  const pub = sm2PublicHex(key);
  const text = Buffer.from(n.text, 'utf8');
  return { state: mine.every((s) => sm2Verify(text, s.sig, pub)) ? 'valid' : 'bad', keyId };
}

/** The key ID as signed notes print it (8 hex digits). */
export const keyIdHex = (id: number): string => (id >>> 0).toString(16).padStart(8, '0');
