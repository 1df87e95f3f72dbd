/**
 * The agency side of sealing: unwrap the data key with the agency's private key, decrypt, and check the tag and
 * the plaintext hash, in the suite the manifest's `enc.alg` names (segment-scheme.ts: AES-256-GCM with RSA-OAEP-256,
 * or SM4-CTR + HMAC-SM3 with SM2). The gateway never runs this (it has no agency private key).
 */
import type { KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { describe } from '../util/errors.js';
import { createSegmentHash, schemeOfEnc } from './segment-scheme.js';
import type { SegmentEncryption } from './types.js';

/** `hash`: hex, in the suite's hash (SHA-256 or SM3), like the manifest's `plain`. */
export type OpenResult = { ok: true; size: number; hash: string } | { ok: false; reason: string };

const CHUNK = 1 << 20;

/**
 * Decrypt a sealed file, streaming the plaintext to `sink` when given (not authenticated until the result says ok:
 * a caller writes it somewhere temporary). Never throws for bad input: a wrong key, a short file or a failed tag
 * are results. A missing file throws (ENOENT), as a read error does.
 */
export async function openSealedFile(
  sealedPath: string,
  enc: SegmentEncryption,
  agencyPrivateKey: KeyObject,
  sink?: (chunk: Buffer) => Promise<void>,
): Promise<OpenResult> {
  // Opened first, so a missing file throws here rather than as a stream error.
  const fh = await open(sealedPath, 'r');
  return openSealed(fh.createReadStream({ highWaterMark: CHUNK }), enc, agencyPrivateKey, sink);
}

/**
 * The same over the sealed bytes as they come (a file, or an object of the store streamed from a bucket): the last
 * bytes, the tag, are held back until the end. A read error of `sealed` throws; it is always consumed or destroyed.
 */
export async function openSealed(
  sealed: Readable,
  enc: SegmentEncryption,
  agencyPrivateKey: KeyObject,
  sink?: (chunk: Buffer) => Promise<void>,
): Promise<OpenResult> {
  const scheme = schemeOfEnc(enc);
  const refuse = (reason: string): OpenResult => {
    sealed.destroy();
    return { ok: false, reason };
  };
  if (!scheme || enc.keyWrap !== scheme.keyWrap) {
    return refuse(`the manifest names ${String(enc.alg)} with ${String(enc.keyWrap)}, which this recgw cannot decrypt (A256GCM with RSA-OAEP-256, or SM4-CTR-HMAC-SM3 with SM2-ENC)`);
  }
  const iv = Buffer.from(enc.iv, 'base64');
  if (iv.length !== scheme.ivBytes) return refuse(`the manifest's IV is ${iv.length} bytes where ${enc.alg} takes ${scheme.ivBytes}`);
  let dataKey: Buffer;
  try {
    dataKey = scheme.suite.unwrapKey(Buffer.from(enc.wrappedKey, 'base64'), agencyPrivateKey);
  } catch (err) {
    return refuse(`the data key cannot be unwrapped with this agency key (wrong key or altered manifest): ${describe(err)}`);
  }
  try {
    const decipher = scheme.decipher(dataKey, iv);
    const h = createSegmentHash(scheme);
    let plainSize = 0;
    const take = async (ciphertext: Buffer): Promise<void> => {
      if (ciphertext.length === 0) return;
      const out = decipher.update(ciphertext);
      h.update(out);
      plainSize += out.length;
      if (sink) await sink(out);
    };
    // The last tagBytes seen so far: the tag, once the stream ends. A chunk is not copied to join them (a copy of
    // every MiB): what was held goes through first, then the chunk up to its own last tagBytes.
    let held = Buffer.alloc(0);
    for await (const chunk of sealed as AsyncIterable<Buffer>) {
      if (chunk.length >= scheme.tagBytes) {
        await take(held);
        await take(chunk.subarray(0, chunk.length - scheme.tagBytes));
        held = Buffer.from(chunk.subarray(chunk.length - scheme.tagBytes));
      } else {
        const all = Buffer.concat([held, chunk]);
        const cut = Math.max(0, all.length - scheme.tagBytes);
        await take(all.subarray(0, cut));
        held = Buffer.from(all.subarray(cut));
      }
    }
    if (held.length < scheme.tagBytes) return { ok: false, reason: 'the sealed file is shorter than its authentication tag' };
    try {
      decipher.final(held);
    } catch {
      return { ok: false, reason: `the ${scheme.alg === 'A256GCM' ? 'GCM authentication tag' : 'HMAC-SM3 tag'} does not match: the sealed file was altered` };
    }
    return { ok: true, size: plainSize, hash: h.digest('hex') };
  } finally {
    dataKey.fill(0);
    sealed.destroy();
  }
}
