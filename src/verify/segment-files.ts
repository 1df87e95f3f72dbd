/**
 * Checks of sealed segment files against their manifests: presence, size, stored hash, and (with the agency key)
 * content. Never throws: whatever is at the manifest's path (nothing, a directory, an unreadable file) is a result.
 * The verifier has its check pool's workers look at the files and judges what they found here (judgeSegmentFile);
 * checkSegmentFile does both in this thread (and decrypts with the agency key).
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash, type KeyObject } from 'node:crypto';
import { openSealedFile } from '../evidence/open-sealed.js';
import { hashHex, hashName } from '../evidence/segment-scheme.js';
import type { SegmentManifest } from '../evidence/types.js';
import { describe, isErrno } from '../util/errors.js';
import type { FileInspection } from './check-pool.js';

export type SegmentCheck =
  | { ok: true }
  /** `absent`: nothing at all is at the path (as opposed to something that is not the sealed file). */
  | { ok: false; kind: 'missing-segment'; detail: string; absent: boolean }
  | { ok: false; kind: 'altered-segment'; detail: string };

/** Hex hash of a file's bytes: SHA-256 or SM3. */
export async function hashFile(path: string, alg: 'sha256' | 'sm3' = 'sha256'): Promise<string> {
  const h = createHash(alg);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const missing = (detail: string, absent: boolean): SegmentCheck => ({ ok: false, kind: 'missing-segment', detail, absent });
const altered = (detail: string): SegmentCheck => ({ ok: false, kind: 'altered-segment', detail });
// An unreadable file is there but cannot be shown to match: for the verifier's claim that is as bad as altered.
const unreadable = (m: SegmentManifest, error: string): SegmentCheck => altered(`${m.file} cannot be read (${error}), so nothing shows it matches its manifest`);

/** What is at a path: the check pool's workers find the same for the verifier (check-pool.ts). */
async function inspect(path: string, size: number, alg: 'sha256' | 'sm3'): Promise<FileInspection> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    return isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') ? { state: 'absent' } : { state: 'error', error: describe(err) };
  }
  // Checked before any read: reading a directory throws, and reading a pipe could block for ever.
  if (!st.isFile()) return { state: st.isDirectory() ? 'directory' : 'special' };
  if (st.size !== size) return { state: 'file', size: st.size };
  try {
    return { state: 'file', size: st.size, hash: await hashFile(path, alg) };
  } catch (err) {
    return { state: 'error', error: describe(err) };
  }
}

/** The check's result from what is at the manifest's path. */
export function judgeSegmentFile(m: SegmentManifest, found: FileInspection): SegmentCheck {
  const what = `${m.file} (${m.source.id} #${m.seq} of session ${m.sessionId})`;
  switch (found.state) {
    case 'absent':
      return missing(`${what} is missing`, true);
    case 'directory':
      return missing(`${what} is a directory, not the sealed file`, false);
    case 'special':
      return missing(`${what} is not a regular file (a device, pipe or socket), not the sealed file`, false);
    case 'error':
      return unreadable(m, found.error);
    case 'file':
      if (found.size !== m.stored.size) return altered(`${m.file} is ${found.size} bytes where its manifest says ${m.stored.size}`);
      if (found.hash !== hashHex(m.stored)) return altered(`${m.file} does not match its manifest's ${hashName(m.stored)}`);
      return { ok: true };
  }
}

export async function checkSegmentFile(path: string, m: SegmentManifest, agencyKey?: KeyObject): Promise<SegmentCheck> {
  const r = judgeSegmentFile(m, await inspect(path, m.stored.size, 'sm3' in m.stored ? 'sm3' : 'sha256'));
  return r.ok && agencyKey ? checkDecrypted(path, m, agencyKey) : r;
}

async function checkDecrypted(path: string, m: SegmentManifest, agencyKey: KeyObject): Promise<SegmentCheck> {
  let r: Awaited<ReturnType<typeof openSealedFile>>;
  try {
    r = await openSealedFile(path, m.enc, agencyKey);
  } catch (err) {
    // openSealedFile reports bad content as a result; what it throws is a read error or an unusable IV.
    return altered(`${m.file} cannot be decrypted (${describe(err)})`);
  }
  if (!r.ok) return altered(`${m.file}: ${r.reason}`);
  if (r.size !== m.plain.size || r.hash !== hashHex(m.plain)) {
    return altered(`${m.file} decrypts to content that does not match the manifest's plaintext hash`);
  }
  return { ok: true };
}
