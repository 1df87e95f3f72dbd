/**
 * Digests of byte sources: whether two hold the same bytes, by SHA-256 (an object already in a store against what we
 * would write), and the MD5 an S3 PUT carries so the server refuses bytes damaged on the way.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export async function sha256Of(data: Readable | Buffer): Promise<string> {
  return digestOf(data, 'sha256', 'hex');
}

export async function digestOf(data: Readable | Buffer, alg: 'sha256' | 'md5', encoding: 'hex' | 'base64'): Promise<string> {
  const h = createHash(alg);
  if (Buffer.isBuffer(data)) return h.update(data).digest(encoding);
  for await (const chunk of data) h.update(chunk as Buffer);
  return h.digest(encoding);
}

export async function sameBytes(a: Readable | Buffer, b: Readable | Buffer): Promise<boolean> {
  const [x, y] = await Promise.all([sha256Of(a), sha256Of(b)]);
  return x === y;
}
