/**
 * The only place the desk uses the agency's private key (config `agencyKey`): a sealed segment read through the
 * evidence store (a folder or a bucket, desk-store.ts), decrypted and streamed, in memory, to the response of a
 * request requireApproval (approvals.ts) let through. Nothing decrypted is written anywhere. The sealed object is
 * read twice: once to check its tag and the manifest's plaintext hash without sending anything, recording each
 * 1 MiB block's digest, then again to stream it a block at a time, each block sent only when its digest is the one
 * recorded (plain-blocks.ts): nobody receives plaintext that was not authenticated, even from an object replaced
 * between the two reads, which ends the stream with an error before its first changed block. Two reads rather than
 * one into memory: a segment may be hundreds of MiB (bench/README.md, desk-plaintext), and a desk serves several
 * playbacks at once; the second read holds one block.
 */
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import type { Queryable } from '../index/database.js';
import { manifestsIn } from '../evidence/find-manifest.js';
import { openSealed, type OpenResult } from '../evidence/open-sealed.js';
import { PLAIN_BLOCK, gateBlocks, recordBlocks } from '../evidence/plain-blocks.js';
import { hashHex, keysById } from '../evidence/segment-scheme.js';
import type { SegmentManifest } from '../evidence/types.js';
import { RecgwError } from '../util/errors.js';
import type { DeskStore } from './desk-store.js';
import { Refusal } from './guard.js';

export interface LocatedSegment {
  device: string;
  session: string;
  segment: string;
  manifest: SegmentManifest;
  /** The sealed object's name in the store: `<device folder>/<manifest.file>`. */
  name: string;
}

/** Sessions whose manifests are kept: a playback fetches its session's segments one after another. */
const SESSIONS_KEPT = 16;

export class SegmentPlaintext {
  /** The agency keys by key ID: each manifest names the one its data key is wrapped for. */
  private readonly keys: Map<string, KeyObject>;
  /** `device/session` → its segments' manifests, from one read of the ledger (a bucket's is many GETs); newest last. */
  private readonly sessions = new Map<string, Map<string, SegmentManifest>>();

  constructor(
    private readonly db: Queryable,
    keys: KeyObject[],
    private readonly store: DeskStore,
    /** Plaintext held, and checked, per block sent (plain-blocks.ts). */
    private readonly blockBytes = PLAIN_BLOCK,
  ) {
    this.keys = keysById(keys);
  }

  get configured(): boolean {
    return this.keys.size > 0;
  }

  /** The segment's session and sealed object, from the index and the device's ledger; undefined when there is none. */
  async locate(device: string, segment: string): Promise<LocatedSegment | undefined> {
    const [row] = await this.db.query<{ session_id: string; folder: string }>(
      'SELECT g.session_id, d.folder FROM segments g JOIN devices d ON d.device_id = g.device_id WHERE g.device_id = $1 AND g.name = $2',
      [device, segment],
    );
    if (!row) return undefined;
    const manifest = await this.manifest(row.folder, device, row.session_id, segment);
    if (!manifest) return undefined;
    return { device, session: row.session_id, segment, manifest, name: `${row.folder}/${manifest.file}` };
  }

  /** The plaintext, checked first; a sealed object that does not check out is an error naming why (nothing sent). */
  async open(s: LocatedSegment): Promise<{ stream: Readable; size: number }> {
    if (!this.configured) throw new RecgwError('config', 'the desk has no agency key (agencyKey in the desk config): it cannot decrypt');
    const key = this.keys.get(s.manifest.enc.agencyKeyId);
    if (!key) throw new RecgwError('config', `${s.segment}: its data key is wrapped for agency key ${s.manifest.enc.agencyKeyId}, which the desk config's agencyKey does not hold: add that suite's agency key`);
    // The check: tag and plaintext hash, and each block's digest (plain-blocks.ts), nothing sent.
    const record = recordBlocks(this.blockBytes);
    const check = await this.decrypt(s, key, (c) => record.add(c));
    if (!check.ok) throw new RecgwError('invalid', `${s.segment}: ${check.reason}`);
    if (check.hash !== hashHex(s.manifest.plain)) throw new RecgwError('invalid', `${s.segment}: the decrypted content does not match the manifest`);
    const blocks = await record.end();
    const out = new PassThrough();
    const send = async (chunk: Buffer): Promise<void> => {
      if (out.destroyed) throw new Error('the client went away');
      // Backpressure: wait for the client to take what was sent, or for it to leave.
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
    };
    // The send: a block goes out only when it is a block the check authenticated; a changed object stops the stream.
    const gate = gateBlocks(blocks, send, this.blockBytes);
    void this.decrypt(s, key, (c) => gate.add(c))
      .then(async (r) => {
        await gate.end();
        if (!r.ok || r.hash !== check.hash) throw new Error('the sealed file changed between the check and the send');
        out.end();
      })
      .catch((err: unknown) => out.destroy(new Error(`${s.segment}: ${(err as Error).message}`)));
    return { stream: out, size: check.size };
  }

  /** One pass over the sealed object as the store holds it now; gone: the desk's clear refusal, folder or bucket alike. */
  private async decrypt(s: LocatedSegment, key: KeyObject, sink?: (chunk: Buffer) => Promise<void>): Promise<OpenResult> {
    const store = await this.store.get();
    const sealed = await store.stream(s.name);
    if (!sealed) throw new Refusal(404, 'access.segmentGone', { segment: s.segment, file: s.name });
    return openSealed(sealed, s.manifest.enc, key, sink);
  }

  private async manifest(folder: string, device: string, session: string, segment: string): Promise<SegmentManifest | undefined> {
    const k = `${device}/${session}`;
    const kept = this.sessions.get(k)?.get(segment);
    if (kept) return kept;
    // Not seen yet (or the session grew since): its manifests from the ledger, now.
    const found = await manifestsIn(await this.store.get(), folder, (m) => m.sessionId === session);
    this.sessions.delete(k);
    this.sessions.set(k, found);
    for (const old of this.sessions.keys()) if (this.sessions.size > SESSIONS_KEPT) this.sessions.delete(old);
    return found.get(segment);
  }
}
