/**
 * A gateway's evidence core on a test clock with an upload queue: segments of random bytes sealed by the real
 * Sealer with the end times a test chooses, and receipts signed by the demo CA's receipt key. Shared by the
 * upload-queue, alarm and retention tests, and by the uplink world that seeds gateways for MQTT tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEvidenceCore, type EvidenceCore } from '../../src/app/evidence-core.js';
import { ENTRY, type SessionContext } from '../../src/evidence/types.js';
import { makeReceipt, type EntriesReceipt, type SegmentReceipt } from '../../src/evidence/receipt.js';
import type { Signer } from '../../src/evidence/signer.js';
import { silentLogger } from '../../src/util/log.js';
import { UploadQueue } from '../../src/uplink/queue.js';
import { makeGateway } from './fixtures.js';

const HOUR = 3600_000;
export const iso = (t: number): string => new Date(t).toISOString();

export interface SealSpec {
  source: string;
  seq: number;
  endMs: number;
  /** Default 2000. */
  durationMs?: number;
  /** Default 1000 random bytes. */
  bytes?: number;
}

/** Seal one segment of random bytes into `core` (waits until its manifest is in the ledger); returns its name. */
export async function sealRandom(core: EvidenceCore, session: SessionContext, s: SealSpec): Promise<string> {
  const name = `${session.sessionId}_${s.source}_${String(s.seq).padStart(6, '0')}`;
  mkdirSync(join(core.dirs.spool, s.source), { recursive: true });
  const plainPath = join(core.dirs.spool, s.source, `${name}.ts`);
  writeFileSync(plainPath, randomBytes(s.bytes ?? 1000));
  core.sealer.enqueue({
    name,
    plainPath,
    session,
    source: { id: s.source, kind: 'camera' },
    seq: s.seq,
    start: iso(s.endMs - (s.durationMs ?? 2000)),
    end: iso(s.endMs),
    clock: { source: 'system', synced: false },
    gps: null,
  });
  // One at a time, so manifests land in the order given.
  await core.sealer.drain();
  return name;
}

export interface QueueWorld {
  core: EvidenceCore;
  queue: UploadQueue;
  deviceId: string;
  session: SessionContext;
  /** The ledger's clock (ms); entries are stamped with it. */
  clock: { ms: number };
  /** Seal segments in the order given (the queue is not synced: tests decide when). */
  seal(segs: SealSpec[]): Promise<string[]>;
  /** The receiver's receipt for a queued file, stating exactly what the gateway holds unless `over` says otherwise. */
  segmentReceipt(name: string, over?: Partial<SegmentReceipt>, signer?: Signer): SegmentReceipt;
  entriesReceipt(seq: number, hash?: string, signer?: Signer): EntriesReceipt;
}

const open: EvidenceCore[] = [];

/** Stop every world's evidence core (call in afterEach). */
export async function closeQueueWorlds(): Promise<void> {
  for (const c of open.splice(0)) await c.stop();
}

/** A fresh enrolled gateway with its evidence core on a test clock, a session opened, and an upload queue. */
export async function queueWorld(o: { caDir: string; receiptSigner: Signer; caseRef: string; sources: string[]; deadlineHours?: number }): Promise<QueueWorld> {
  const gw = makeGateway(o.caDir);
  const clock = { ms: Math.floor(Date.now() / 1000) * 1000 };
  const core = await startEvidenceCore(gw.config, silentLogger, () => new Date(clock.ms));
  open.push(core);
  const deviceId = gw.config.deviceId;
  const session: SessionContext = {
    sessionId: `S${clock.ms}-${deviceId}`,
    matter: 'site-inspection',
    caseRef: o.caseRef,
    officers: [{ name: '张三', badge: '13010001' }],
    place: 'uplink test room',
  };
  core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(clock.ms - HOUR), sources: o.sources });
  const queue = new UploadQueue(core.db, core.ledger, o.deadlineHours ?? 24);
  const storedAt = (): string => new Date().toISOString();
  return {
    core,
    queue,
    deviceId,
    session,
    clock,
    async seal(segs) {
      const names: string[] = [];
      for (const s of segs) names.push(await sealRandom(core, session, s));
      return names;
    },
    segmentReceipt(name, over = {}, signer = o.receiptSigner) {
      const f = queue.file(name);
      if (!f) throw new Error(`${name} is not queued`);
      const fields = { kind: 'segment', device: deviceId, name, size: f.size, sha256: f.sha256, manifestSeq: f.manifestSeq, deadline: iso(f.deadlineMs), storedAt: storedAt(), receiver: 'receiver:1', ...over };
      return makeReceipt(fields as Parameters<typeof makeReceipt>[0], signer) as SegmentReceipt;
    },
    entriesReceipt(seq, hash = core.ledger.entry(seq)!.hash, signer = o.receiptSigner) {
      return makeReceipt({ kind: 'entries', device: deviceId, through: { seq, hash }, deadline: iso(clock.ms), storedAt: storedAt(), receiver: 'receiver:1' }, signer) as EntriesReceipt;
    },
  };
}
