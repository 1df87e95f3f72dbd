/** Checks of sealed segment files against their manifests: presence, size, stored hash, and (with the agency key) content. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash, type KeyObject } from 'node:crypto';
import { openSealedFile } from '../evidence/open-sealed.js';
import type { SegmentManifest } from '../evidence/types.js';
import { isENOENT } from '../util/errors.js';

export type SegmentCheck =
  | { ok: true }
  | { ok: false; kind: 'missing-segment' | 'altered-segment'; detail: string };

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function checkSegmentFile(path: string, m: SegmentManifest, agencyKey?: KeyObject): Promise<SegmentCheck> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if (isENOENT(err)) return { ok: false, kind: 'missing-segment', detail: `${m.file} (${m.source.id} #${m.seq} of session ${m.sessionId}) is missing` };
    throw err;
  }
  if (size !== m.stored.size) {
    return { ok: false, kind: 'altered-segment', detail: `${m.file} is ${size} bytes where its manifest says ${m.stored.size}` };
  }
  const digest = await sha256File(path);
  if (digest !== m.stored.sha256) return { ok: false, kind: 'altered-segment', detail: `${m.file} does not match its manifest's SHA-256` };
  if (agencyKey) {
    const r = await openSealedFile(path, m.enc, agencyKey);
    if (!r.ok) return { ok: false, kind: 'altered-segment', detail: `${m.file}: ${r.reason}` };
    if (r.size !== m.plain.size || r.sha256 !== m.plain.sha256) {
      return { ok: false, kind: 'altered-segment', detail: `${m.file} decrypts to content that does not match the manifest's plaintext hash` };
    }
  }
  return { ok: true };
}
