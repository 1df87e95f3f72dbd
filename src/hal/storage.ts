/** Free space on the filesystem that holds recordings. */
import { statfs } from 'node:fs/promises';

export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}
