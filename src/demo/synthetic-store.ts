/**
 * A synthetic device folder of any size, for the verifier's scale bench and memory test: the lines a gateway
 * writes (ledger.opened with the enrolled device's certificate, then hour-long sessions of four sources with 10 s
 * segments, an explained interruption now and then), each signed with the real device key and chained, and a
 * device-signed head.json. Building through the gateway's SQLite ledger would take hours for 10^6 entries; this
 * writes the same line form (entry.ts's encoder) straight to the file.
 *
 * Segment files: each manifest describes a real file in segments/ (a hard link to one of a few small random
 * files kept beside the device folder, so a million of them cost directory entries, not gigabytes), with the
 * stored size and SHA-256 of that file, so the verifier's file checks run for real. The manifests name the agency
 * encryption certificate recorded after the genesis entry, but the content is not an encryption of anything:
 * verify without --agency-key.
 */
import { closeSync, linkSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, randomBytes } from 'node:crypto';
import { publicKeyId } from '../pki/keys.js';
import { GENESIS_PREV, attachSignature, encodeUnsigned, lineHash, sha256Hex } from '../evidence/entry.js';
import { HEAD_FILE, LEDGER_FILE, SEGMENTS_DIR, encodeHead, makeHead } from '../evidence/head.js';
import { ENTRY } from '../evidence/types.js';
import type { Signer } from '../evidence/signer.js';

export interface SyntheticStoreOptions {
  /** The device folder to write (created); the pool of segment contents goes to `${deviceDir}.pool`. */
  deviceDir: string;
  deviceId: string;
  signer: Signer;
  /** Exactly this many ledger lines. */
  entries: number;
  /** Time of the first entry, ms since 1970 (must be inside the device certificate's validity). */
  startMs: number;
  /** Called every 10,000 lines with the number written. */
  onProgress?: (lines: number) => void;
  /** Entry seqs whose signature is made over other bytes (the line still chains): for tests of the checks. */
  badSignatures?: number[];
  /** The agency encryption certificate (agency-enc.pem) the manifests name, recorded after the genesis entry. */
  encryptionCert: string;
}

const SOURCES = [
  { id: 'cam1', kind: 'camera' },
  { id: 'cam2', kind: 'camera' },
  { id: 'mic1', kind: 'microphone' },
  { id: 'mic2', kind: 'microphone' },
] as const;
const SEGMENT_MS = 10_000;
const SLOTS_PER_SESSION = 360;
/** Every this many slots, the sources pause for a declared interruption of one slot. */
const INTERRUPT_EVERY = 100;
const POOL = 16;
const OFFICERS = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];

const iso = (t: number): string => new Date(t).toISOString();
const b64 = (n: number): string => randomBytes(n).toString('base64');

const segmentName = (sessionId: string, sourceId: string, n: number): string => `${sessionId}_${sourceId}_${String(n).padStart(6, '0')}`;
/** Where the sealed file of a session's source's n-th segment is, relative to the device folder. */
export const segmentFile = (sessionId: string, sourceId: string, n: number): string => `${SEGMENTS_DIR}/${segmentName(sessionId, sourceId, n)}.seg`;

/** A manifest (segment.sealed body) of the n-th segment of a source, describing a stored file of `stored`. */
export function syntheticManifest(
  ctx: { sessionId: string; matter: string; caseRef: string; officers: { name: string; badge: string }[]; place?: string },
  source: { id: string; kind: string },
  n: number,
  fromMs: number,
  toMs: number,
  stored: { size: number; sha256: string },
  agencyKeyId: string,
): Record<string, unknown> {
  const name = segmentName(ctx.sessionId, source.id, n);
  return {
    ...ctx,
    segment: name,
    file: segmentFile(ctx.sessionId, source.id, n),
    source,
    seq: n,
    start: iso(fromMs),
    end: iso(toMs),
    clock: { source: 'ntp', synced: true },
    gps: null,
    container: 'mpegts',
    // What AES-GCM leaves: the stored file is the plaintext and a 16-byte tag.
    plain: { size: stored.size - 16, sha256: sha256Hex(name) },
    stored: { size: stored.size, sha256: stored.sha256 },
    enc: { alg: 'A256GCM', iv: b64(12), keyWrap: 'RSA-OAEP-256', wrappedKey: b64(256), agencyKeyId },
  };
}

/**
 * Appends signed, chained lines to a new ledger.jsonl, buffered; finish() writes head.json. `badSignatures`: the
 * seqs whose signature is made over other bytes (a test's forged lines that still chain).
 */
export class LedgerWriter {
  private readonly fd: number;
  private out: string[] = [];
  private outLen = 0;
  seq = 0;
  prev = GENESIS_PREV;

  constructor(
    private readonly deviceDir: string,
    private readonly deviceId: string,
    private readonly signer: Signer,
    private readonly badSignatures: ReadonlySet<number> = new Set(),
  ) {
    mkdirSync(deviceDir, { recursive: true });
    this.fd = openSync(join(deviceDir, LEDGER_FILE), 'w');
  }

  append(type: string, body: Record<string, unknown>, timeMs: number): string {
    const unsigned = encodeUnsigned({ v: 1, device: this.deviceId, seq: this.seq, prev: this.prev, time: iso(timeMs), type, body });
    const signed = Buffer.from(this.badSignatures.has(this.seq) ? `${unsigned} ` : unsigned, 'utf8');
    const line = attachSignature(unsigned, this.signer.sign(signed).toString('base64'));
    this.prev = lineHash(line);
    this.seq++;
    this.out.push(line, '\n');
    this.outLen += line.length;
    if (this.outLen > 1 << 22) this.flush();
    return line;
  }

  /** Write what is buffered, a device-signed head.json naming the last line, and close. */
  finish(timeMs: number): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
    const head = makeHead({ device: this.deviceId, seq: this.seq - 1, hash: this.prev, time: iso(timeMs), signer: 'device' }, this.signer);
    writeFileSync(join(this.deviceDir, HEAD_FILE), encodeHead(head));
  }

  private flush(): void {
    writeSync(this.fd, this.out.join(''));
    this.out = [];
    this.outLen = 0;
  }
}

export function writeSyntheticStore(o: SyntheticStoreOptions): { lastSeq: number; segments: number } {
  const segDir = join(o.deviceDir, SEGMENTS_DIR);
  const poolDir = `${o.deviceDir}.pool`;
  mkdirSync(segDir, { recursive: true });
  mkdirSync(poolDir, { recursive: true });
  const pool = Array.from({ length: POOL }, (_, i) => {
    const bytes = randomBytes(188 * 4 + 16); // four MPEG-TS packets and a GCM tag
    const path = join(poolDir, `${i}.bin`);
    writeFileSync(path, bytes);
    return { path, size: bytes.length, sha256: sha256Hex(bytes) };
  });
  const agencyKeyId = publicKeyId(new X509Certificate(o.encryptionCert).publicKey);

  const w = new LedgerWriter(o.deviceDir, o.deviceId, o.signer, new Set(o.badSignatures ?? []));
  let time = o.startMs;
  let segments = 0;
  const append = (type: string, body: Record<string, unknown>): void => {
    w.append(type, body, time);
    if (w.seq % 10_000 === 0) o.onProgress?.(w.seq);
  };
  const left = (): number => o.entries - w.seq;

  append(ENTRY.ledgerOpened, { deviceId: o.deviceId, cert: o.signer.certificatePem, software: { name: 'recgw', version: 'synthetic' } });
  append(ENTRY.encryptionInstalled, { cert: o.encryptionCert });
  let session = 0;
  // Each session needs at least its opening and closing line; whatever is left closes the last one early.
  while (left() >= 2) {
    const t0 = time + 60_000;
    const sessionId = `${iso(t0).replace(/[-:]/g, '').slice(0, 15)}Z-${String(session++).padStart(6, '0')}`;
    const ctx = { sessionId, matter: 'site-inspection', caseRef: `CASE-${sessionId}`, officers: OFFICERS, place: '执法局 一号询问室 (interview room 1)' };
    time = t0;
    append(ENTRY.sessionOpened, { ...ctx, start: iso(t0), sources: SOURCES.map((s) => s.id) });
    let end = t0;
    // A slot is written whole (four manifests, or the two lines of an interruption) and leaves room for the close.
    for (let slot = 0; slot < SLOTS_PER_SESSION && left() > SOURCES.length + 1; slot++) {
      const from = t0 + slot * SEGMENT_MS;
      if (slot > 0 && slot % INTERRUPT_EVERY === 0) {
        const ids = { sessionId, interruptionId: `${sessionId}-i${slot}` };
        time = from;
        append(ENTRY.interruptionStarted, { ...ids, reason: 'site-change', start: iso(from), origin: 'declared' });
        time = from + SEGMENT_MS;
        append(ENTRY.interruptionEnded, { ...ids, end: iso(from + SEGMENT_MS) });
        continue; // no footage in this slot: the interruption explains it
      }
      for (const source of SOURCES) {
        const content = pool[segments % POOL]!;
        linkSync(content.path, join(o.deviceDir, segmentFile(sessionId, source.id, slot)));
        time = from + SEGMENT_MS + 150;
        append(ENTRY.segmentSealed, syntheticManifest(ctx, source, slot, from, from + SEGMENT_MS, content, agencyKeyId));
        segments++;
        end = from + SEGMENT_MS;
      }
    }
    time = end + 200;
    append(ENTRY.sessionClosed, { sessionId, reason: 'stopped', end: iso(end) });
  }
  if (left() > 0) append(ENTRY.serviceStopped, { reason: 'synthetic store complete' });
  w.finish(time + 1000);
  return { lastSeq: w.seq - 1, segments };
}
