/**
 * A receiver's store built from planned sessions, without ffmpeg: each device is an enrolled gateway whose
 * evidence core opens sessions, logs interruptions and statements and seals small stand-in segment files through
 * the real Sealer (it encrypts any bytes), then exports. Segment times are whatever the plan says, so a test can
 * make sessions of hours and know the exact totals. Receipts are made with the agency's receipt key.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { exportDevice } from '../../src/evidence/export.js';
import { ENTRY, type ClockState, type Officer, type SessionContext, type SourceKind } from '../../src/evidence/types.js';
import { KeySigner, type Signer } from '../../src/evidence/signer.js';
import { encodeReceipt, makeReceipt, type Receipt } from '../../src/evidence/receipt.js';
import { caPaths } from '../../src/pki/ca.js';
import { silentLogger } from '../../src/util/log.js';
import { makeGateway } from './fixtures.js';
import { hashHex } from '../../src/evidence/segment-scheme.js';

const MIN = 60_000;
const iso = (t: number): string => new Date(t).toISOString();

export interface PlannedSession {
  id: string;
  matter: string;
  officers: Officer[];
  start: string;
  /** Footage as [source, kind, from minute, to minute] after start, in order per source; the manifest's clock if not NTP synchronised. */
  segments: [string, SourceKind, number, number, ClockState?][];
  /**
   * [reason, from minute, to minute or null = never resumed, sources or undefined = all, origin (detected by default;
   * a declared one is an officer's pause)].
   */
  interruptions?: [string, number, number | null, string[]?, ('detected' | 'declared')?][];
  /** How it ended and at which minute; undefined = never closed. */
  close?: { reason: 'stopped' | 'terminated'; at: number };
  statementBy?: Officer[];
  /** Interruptions (by index) after whose resume the spoken explanation was heard, or not (explanation.* entries). */
  explanations?: { heard?: number[]; missing?: number[] };
  /** The statement's PIN confirmations, as written (no roster is installed, so nothing checks them). */
  statementConfirmations?: Record<string, unknown>[];
  /** Default `CASE-<id>`. */
  caseRef?: string;
  /** A GPS fix [lat, lon] per segment (in plan order; the fix's time is the segment's end); none: no fix. */
  gps?: ([number, number] | null)[];
  party?: string;
  place?: string;
}

/** A ledger entry written after the sessions (an upload.deadline_extended, say). */
export interface ExtraEntry {
  type: string;
  body: Record<string, unknown>;
}

export interface BuiltDevice {
  deviceDir: string;
  /** The ledger's last entry, for an entries receipt. */
  last: { seq: number; hash: string };
  /** The stored size and hash, and manifest seq, of each sealed segment by name. */
  segments: Map<string, { size: number; sha256: string; manifestSeq: number }>;
}

/** Segment name as the Sealer gets it: session, source, per-source number. */
export const segName = (sessionId: string, source: string, n: number): string => `${sessionId}_${source}_${String(n).padStart(6, '0')}`;

export async function buildDevice(caDir: string, storeDir: string, deviceId: string, plan: PlannedSession[], extra: ExtraEntry[] = []): Promise<BuiltDevice> {
  const gateway = makeGateway(caDir, { deviceId });
  const core = await startEvidenceCore(gateway.config, silentLogger);
  const segments: BuiltDevice['segments'] = new Map();
  core.sealer.onSealed((s) => segments.set(s.name, { size: s.manifest.stored.size, sha256: hashHex(s.manifest.stored), manifestSeq: s.ledgerSeq }));
  try {
    for (const p of plan) {
      const t0 = Date.parse(p.start);
      const session: SessionContext = {
        sessionId: p.id,
        matter: p.matter,
        caseRef: p.caseRef ?? `CASE-${p.id}`,
        officers: p.officers,
        ...(p.party !== undefined ? { party: p.party } : {}),
        ...(p.place !== undefined ? { place: p.place } : {}),
      };
      const sources = [...new Set(p.segments.map((s) => s[0]))];
      core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(t0), sources });
      p.interruptions?.forEach(([reason, from, to, only, origin = 'detected'], i) => {
        const ids = { sessionId: p.id, interruptionId: `${p.id}-i${i}` };
        core.ledger.append(ENTRY.interruptionStarted, { ...ids, reason, start: iso(t0 + from * MIN), origin, ...(only ? { sources: only } : {}) });
        if (to === null) return;
        core.ledger.append(ENTRY.interruptionEnded, { ...ids, end: iso(t0 + to * MIN) });
        const window = { start: iso(t0 + to * MIN), end: iso(t0 + to * MIN + MIN), seconds: 60 };
        const listened = { sessionId: p.id, interruptionIds: [ids.interruptionId], resumed: [origin], window, microphones: ['mic1'] };
        if (p.explanations?.heard?.includes(i)) {
          core.ledger.append(ENTRY.explanationHeard, { ...listened, source: 'mic1', start: iso(t0 + to * MIN + 5000), seconds: 4.2, voicedSeconds: 3.1 });
        }
        if (p.explanations?.missing?.includes(i)) core.ledger.append(ENTRY.explanationMissing, { ...listened, why: 'nothing-heard' });
      });
      const counts = new Map<string, number>();
      for (const [i, [source, kind, from, to, clock]] of p.segments.entries()) {
        const fix = p.gps?.[i];
        const n = counts.get(source) ?? 0;
        counts.set(source, n + 1);
        const name = segName(p.id, source, n);
        const plainPath = join(core.dirs.spool, source, `${name}.ts`);
        mkdirSync(join(core.dirs.spool, source), { recursive: true });
        writeFileSync(plainPath, randomBytes(188 * 4)); // a few MPEG-TS packets' worth of stand-in bytes
        core.sealer.enqueue({
          name,
          plainPath,
          session,
          source: { id: source, kind },
          seq: n,
          start: iso(t0 + from * MIN),
          end: iso(t0 + to * MIN),
          clock: clock ?? { source: 'ntp', synced: true },
          gps: fix ? { lat: fix[0], lon: fix[1], mode: 3, eph: 8, time: iso(t0 + to * MIN) } : null,
        });
      }
      await core.sealer.drain();
      if (p.statementBy) {
        const confirmations = p.statementConfirmations ? { confirmations: p.statementConfirmations } : {};
        core.ledger.append(ENTRY.sessionStatement, { sessionId: p.id, text: '设备故障，无法继续录制。', officers: p.statementBy, ...confirmations });
      }
      if (p.close) core.ledger.append(ENTRY.sessionClosed, { sessionId: p.id, reason: p.close.reason, end: iso(t0 + p.close.at * MIN) });
    }
    for (const x of extra) core.ledger.append(x.type, x.body);
    const deviceDir = join(storeDir, deviceId);
    await exportDevice({ db: core.db, ledger: core.ledger, signer: core.identity.signer, deviceId, outDir: deviceDir });
    const head = core.ledger.head()!;
    return { deviceDir, last: { seq: head.seq, hash: head.hash }, segments };
  } finally {
    await core.stop();
  }
}

/** The agency's receipt signer, from the CA folder's receipt-key.pem and receipt.pem. */
export function receiptSigner(caDir: string): KeySigner {
  const p = caPaths(caDir);
  return new KeySigner(createPrivateKey(readFileSync(p.receiptKey, 'utf8')), readFileSync(p.receiptCert, 'utf8'));
}

/** A signer that shows the genuine receipt certificate but signs with a key of its own: a forger. */
export function forgerSigner(caDir: string): Signer {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return new KeySigner(privateKey, readFileSync(caPaths(caDir).receiptCert, 'utf8'));
}

export interface ReceiptTimes {
  deadline: number;
  storedAt: number;
}

export function segmentReceipt(d: BuiltDevice, deviceId: string, name: string, t: ReceiptTimes, signer: Signer): Receipt {
  const s = d.segments.get(name);
  if (!s) throw new Error(`no sealed segment ${name}`);
  return makeReceipt(
    { kind: 'segment', device: deviceId, name, size: s.size, sha256: s.sha256, manifestSeq: s.manifestSeq, deadline: iso(t.deadline), storedAt: iso(t.storedAt), receiver: 'receiver:1' },
    signer,
  );
}

export function entriesReceipt(d: BuiltDevice, deviceId: string, t: ReceiptTimes, signer: Signer): Receipt {
  return makeReceipt({ kind: 'entries', device: deviceId, through: d.last, deadline: iso(t.deadline), storedAt: iso(t.storedAt), receiver: 'receiver:1' }, signer);
}

/** Write receipts.jsonl: receipts as the receiver writes them, raw strings as they are (broken lines). */
export function writeReceipts(d: BuiltDevice, lines: (Receipt | string)[]): void {
  writeFileSync(join(d.deviceDir, 'receipts.jsonl'), lines.map((l) => (typeof l === 'string' ? l : encodeReceipt(l)) + '\n').join(''));
}
