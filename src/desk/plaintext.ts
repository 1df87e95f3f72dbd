/**
 * The only place the desk uses the agency's private key (config `agencyKey`): a sealed segment decrypted and
 * streamed, in memory, to the response of a request requireApproval (approvals.ts) let through. Nothing decrypted
 * is written anywhere. The sealed file is read twice: once to check its tag and the manifest's plaintext hash
 * without sending anything (so nobody receives plaintext that was not authenticated), then again to stream it; a
 * file changed between the two ends the stream with an error instead of its last bytes.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import { findManifest } from '../evidence/find-manifest.js';
import { openSealedFile } from '../evidence/open-sealed.js';
import { hashHex, keysById } from '../evidence/segment-scheme.js';
import type { SegmentManifest } from '../evidence/types.js';
import { RecgwError } from '../util/errors.js';
import { storeFolder } from './store-folder.js';

export interface LocatedSegment {
  device: string;
  session: string;
  segment: string;
  manifest: SegmentManifest;
  path: string;
}

export class SegmentPlaintext {
  /** The agency keys by key ID: each manifest names the one its data key is wrapped for. */
  private readonly keys: Map<string, KeyObject>;

  constructor(
    private readonly db: Queryable,
    keys: KeyObject[],
    private readonly store: string | undefined,
  ) {
    this.keys = keysById(keys);
  }

  get configured(): boolean {
    return this.keys.size > 0;
  }

  /** The segment's session and sealed file, from the index and the device's ledger; undefined when there is none. */
  async locate(device: string, segment: string): Promise<LocatedSegment | undefined> {
    const [row] = await this.db.query<{ session_id: string; folder: string }>(
      'SELECT g.session_id, d.folder FROM segments g JOIN devices d ON d.device_id = g.device_id WHERE g.device_id = $1 AND g.name = $2',
      [device, segment],
    );
    if (!row) return undefined;
    const dir = join(await storeFolder(this.db, this.store), row.folder);
    const manifest = await findManifest(dir, segment);
    if (!manifest) return undefined;
    return { device, session: row.session_id, segment, manifest, path: join(dir, manifest.file) };
  }

  /** The plaintext, checked first; a sealed file that does not check out is an error naming why (nothing sent). */
  async open(s: LocatedSegment): Promise<{ stream: Readable; size: number }> {
    if (!this.configured) throw new RecgwError('config', 'the desk has no agency key (agencyKey in the desk config): it cannot decrypt');
    const key = this.keys.get(s.manifest.enc.agencyKeyId);
    if (!key) throw new RecgwError('config', `${s.segment}: its data key is wrapped for agency key ${s.manifest.enc.agencyKeyId}, which the desk config's agencyKey does not hold: add that suite's agency key`);
    const check = await openSealedFile(s.path, s.manifest.enc, key);
    if (!check.ok) throw new RecgwError('invalid', `${s.segment}: ${check.reason}`);
    if (check.hash !== hashHex(s.manifest.plain)) throw new RecgwError('invalid', `${s.segment}: the decrypted content does not match the manifest`);
    const out = new PassThrough();
    const sink = async (chunk: Buffer): Promise<void> => {
      if (out.destroyed) throw new Error('the client went away');
      // Backpressure: wait for the client to take what was sent, or for it to leave.
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
    };
    void openSealedFile(s.path, s.manifest.enc, key, sink).then(
      (r) => (r.ok && r.hash === check.hash ? out.end() : out.destroy(new Error(`${s.segment}: the sealed file changed while it was sent`))),
      (err: unknown) => out.destroy(err as Error),
    );
    return { stream: out, size: check.size };
  }
}
