/**
 * Checks of sealed segment files against their manifests: presence, size, stored hash, and (with the agency key)
 * content. Never throws: whatever is at the manifest's path (nothing, a directory, an unreadable file) is a result.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash, type KeyObject } from 'node:crypto';
import { openSealedFile } from '../evidence/open-sealed.js';
import type { SegmentManifest } from '../evidence/types.js';
import { describe, isErrno } from '../util/errors.js';

export type SegmentCheck =
  | { ok: true }
  /** `absent`: nothing at all is at the path (as opposed to something that is not the sealed file). */
  | { ok: false; kind: 'missing-segment'; detail: string; absent: boolean }
  | { ok: false; kind: 'altered-segment'; detail: string };

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const missing = (detail: string, absent: boolean): SegmentCheck => ({ ok: false, kind: 'missing-segment', detail, absent });
const altered = (detail: string): SegmentCheck => ({ ok: false, kind: 'altered-segment', detail });
// An unreadable file is there but cannot be shown to match: for the verifier's claim that is as bad as altered.
const unreadable = (m: SegmentManifest, err: unknown): SegmentCheck =>
  altered(`${m.file} cannot be read (${describe(err)}), so nothing shows it matches its manifest`);

function kindOfFile(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file (a device, pipe or socket)';
}

export async function checkSegmentFile(path: string, m: SegmentManifest, agencyKey?: KeyObject): Promise<SegmentCheck> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      return missing(`${m.file} (${m.source.id} #${m.seq} of session ${m.sessionId}) is missing`, true);
    }
    return unreadable(m, err);
  }
  const notFile = kindOfFile(st);
  // Checked before any read: reading a directory throws, and reading a pipe could block for ever.
  if (notFile) return missing(`${m.file} (${m.source.id} #${m.seq} of session ${m.sessionId}) is ${notFile}, not the sealed file`, false);
  if (st.size !== m.stored.size) return altered(`${m.file} is ${st.size} bytes where its manifest says ${m.stored.size}`);
  let digest: string;
  try {
    digest = await sha256File(path);
  } catch (err) {
    return unreadable(m, err);
  }
  if (digest !== m.stored.sha256) return altered(`${m.file} does not match its manifest's SHA-256`);
  return agencyKey ? checkDecrypted(path, m, agencyKey) : { ok: true };
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
  if (r.size !== m.plain.size || r.sha256 !== m.plain.sha256) {
    return altered(`${m.file} decrypts to content that does not match the manifest's plaintext hash`);
  }
  return { ok: true };
}
