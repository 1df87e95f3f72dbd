/**
 * The agency side of sealing: unwrap the data key with the agency's private key, decrypt, and check the tag and
 * the plaintext hash, in the suite the manifest's `enc.alg` names (segment-scheme.ts: AES-256-GCM with RSA-OAEP-256,
 * or SM4-CTR + HMAC-SM3 with SM2). The gateway never runs this (it has no agency private key).
 */
import type { KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { describe } from '../util/errors.js';
import { createSegmentHash, schemeOfEnc } from './segment-scheme.js';
import type { SegmentEncryption } from './types.js';

/** `hash`: hex, in the suite's hash (SHA-256 or SM3), like the manifest's `plain`. */
export type OpenResult = { ok: true; size: number; hash: string } | { ok: false; reason: string };

const CHUNK = 1 << 20;

/**
 * Decrypt a sealed file, streaming the plaintext to `sink` when given (not authenticated until the result says ok:
 * a caller writes it somewhere temporary). Never throws for bad input: a wrong key, a short file or a failed tag
 * are results.
 */
export async function openSealedFile(
  sealedPath: string,
  enc: SegmentEncryption,
  agencyPrivateKey: KeyObject,
  sink?: (chunk: Buffer) => Promise<void>,
): Promise<OpenResult> {
  const scheme = schemeOfEnc(enc);
  if (!scheme || enc.keyWrap !== scheme.keyWrap) {
    return { ok: false, reason: `the manifest names ${String(enc.alg)} with ${String(enc.keyWrap)}, which this recgw cannot decrypt (A256GCM with RSA-OAEP-256, or SM4-CTR-HMAC-SM3 with SM2-ENC)` };
  }
  const iv = Buffer.from(enc.iv, 'base64');
  if (iv.length !== scheme.ivBytes) return { ok: false, reason: `the manifest's IV is ${iv.length} bytes where ${enc.alg} takes ${scheme.ivBytes}` };
  let dataKey: Buffer;
  try {
    dataKey = scheme.suite.unwrapKey(Buffer.from(enc.wrappedKey, 'base64'), agencyPrivateKey);
  } catch (err) {
    return { ok: false, reason: `the data key cannot be unwrapped with this agency key (wrong key or altered manifest): ${describe(err)}` };
  }
  const fh = await open(sealedPath, 'r');
  try {
    const { size } = await fh.stat();
    if (size < scheme.tagBytes) return { ok: false, reason: 'the sealed file is shorter than its authentication tag' };
    const tag = Buffer.alloc(scheme.tagBytes);
    await fh.read(tag, 0, scheme.tagBytes, size - scheme.tagBytes);
    const decipher = scheme.decipher(dataKey, iv);
    const h = createSegmentHash(scheme);
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    let plainSize = 0;
    const end = size - scheme.tagBytes;
    while (pos < end) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, end - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const out = decipher.update(buf.subarray(0, bytesRead));
      h.update(out);
      plainSize += out.length;
      if (sink) await sink(out);
    }
    try {
      decipher.final(tag);
    } catch {
      return { ok: false, reason: `the ${scheme.alg === 'A256GCM' ? 'GCM authentication tag' : 'HMAC-SM3 tag'} does not match: the sealed file was altered` };
    }
    return { ok: true, size: plainSize, hash: h.digest('hex') };
  } finally {
    dataKey.fill(0);
    await fh.close();
  }
}
