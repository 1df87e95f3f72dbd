/** Whether two byte sources hold the same bytes, by SHA-256 (an object already in a store against what we would write). */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export async function sha256Of(data: Readable | Buffer): Promise<string> {
  const h = createHash('sha256');
  if (Buffer.isBuffer(data)) return h.update(data).digest('hex');
  for await (const chunk of data) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function sameBytes(a: Readable | Buffer, b: Readable | Buffer): Promise<boolean> {
  const [x, y] = await Promise.all([sha256Of(a), sha256Of(b)]);
  return x === y;
}
