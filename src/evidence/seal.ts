/**
 * Sealing a finished segment in one streaming pass: SHA-256 of the plaintext, AES-256-GCM encryption under a
 * fresh data key, SHA-256 of the stored bytes (ciphertext followed by the 16-byte tag), and the data key
 * wrapped with the agency's public key (RSA-OAEP-256). The gateway keeps no copy of the data key, so it cannot
 * read its own recordings back. The sealed file appears under its final name only once fsynced.
 */
import { createCipheriv, createHash, publicEncrypt, randomBytes, constants, type KeyObject } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from '../util/fsx.js';
import { publicKeyId } from '../pki/keys.js';
import type { HashedSize, SegmentEncryption } from './types.js';

export const GCM_TAG_BYTES = 16;
const CHUNK = 1 << 20;

export interface SealResult {
  plain: HashedSize;
  stored: HashedSize;
  enc: SegmentEncryption;
}

export function wrapDataKey(dataKey: Buffer, agencyPublicKey: KeyObject): Buffer {
  return publicEncrypt({ key: agencyPublicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, dataKey);
}

export async function sealFile(plainPath: string, sealedPath: string, agencyPublicKey: KeyObject): Promise<SealResult> {
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  const hPlain = createHash('sha256');
  const hStored = createHash('sha256');
  const tmp = `${sealedPath}.tmp`;
  const input = await open(plainPath, 'r');
  let plainSize = 0;
  let storedSize = 0;
  try {
    const output = await open(tmp, 'w', 0o640);
    try {
      // Two buffers: the next read runs while this chunk is hashed, encrypted and written.
      const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
      let which = 0;
      let pending = input.read(bufs[0]!, 0, CHUNK, null);
      for (;;) {
        const { bytesRead } = await pending;
        if (bytesRead === 0) break;
        const chunk = bufs[which]!.subarray(0, bytesRead);
        which ^= 1;
        pending = input.read(bufs[which]!, 0, CHUNK, null);
        plainSize += bytesRead;
        hPlain.update(chunk);
        const enc = cipher.update(chunk);
        hStored.update(enc);
        storedSize += enc.length;
        await output.write(enc);
      }
      cipher.final();
      const tag = cipher.getAuthTag();
      hStored.update(tag);
      storedSize += tag.length;
      await output.write(tag);
      await output.sync();
    } finally {
      await output.close();
    }
    await rename(tmp, sealedPath);
    await fsyncDir(dirname(sealedPath));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    await input.close();
  }
  const wrapped = wrapDataKey(dataKey, agencyPublicKey);
  dataKey.fill(0);
  return {
    plain: { size: plainSize, sha256: hPlain.digest('hex') },
    stored: { size: storedSize, sha256: hStored.digest('hex') },
    enc: {
      alg: 'A256GCM',
      iv: iv.toString('base64'),
      keyWrap: 'RSA-OAEP-256',
      wrappedKey: wrapped.toString('base64'),
      agencyKeyId: publicKeyId(agencyPublicKey),
    },
  };
}
