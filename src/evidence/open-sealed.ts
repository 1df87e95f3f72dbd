/**
 * The agency side of sealing: unwrap the data key with the agency's private key, decrypt, and check the GCM tag
 * and the plaintext hash. The gateway never runs this (it has no agency private key).
 */
import { createDecipheriv, createHash, privateDecrypt, constants, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { SegmentEncryption } from './types.js';
import { GCM_TAG_BYTES } from './seal.js';

export type OpenResult =
  | { ok: true; size: number; sha256: string }
  | { ok: false; reason: string };

const CHUNK = 1 << 20;

/**
 * Decrypt a sealed file, streaming the plaintext to `sink` when given. Never throws for bad input: a wrong key,
 * a short file or a failed tag are results.
 */
export async function openSealedFile(
  sealedPath: string,
  enc: SegmentEncryption,
  agencyPrivateKey: KeyObject,
  sink?: (chunk: Buffer) => Promise<void>,
): Promise<OpenResult> {
  let dataKey: Buffer;
  try {
    dataKey = privateDecrypt(
      { key: agencyPrivateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(enc.wrappedKey, 'base64'),
    );
  } catch {
    return { ok: false, reason: 'the data key cannot be unwrapped with this agency key (wrong key or altered manifest)' };
  }
  if (dataKey.length !== 32) return { ok: false, reason: 'the unwrapped data key has the wrong length' };
  const fh = await open(sealedPath, 'r');
  try {
    const { size } = await fh.stat();
    if (size < GCM_TAG_BYTES) return { ok: false, reason: 'the sealed file is shorter than its authentication tag' };
    const tag = Buffer.alloc(GCM_TAG_BYTES);
    await fh.read(tag, 0, GCM_TAG_BYTES, size - GCM_TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(enc.iv, 'base64'));
    decipher.setAuthTag(tag);
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    let plainSize = 0;
    const end = size - GCM_TAG_BYTES;
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
      decipher.final();
    } catch {
      return { ok: false, reason: 'the GCM authentication tag does not match: the sealed file was altered' };
    }
    return { ok: true, size: plainSize, sha256: h.digest('hex') };
  } finally {
    await fh.close();
  }
}
