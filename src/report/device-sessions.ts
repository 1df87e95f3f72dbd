/**
 * One device's sessions as the report and the agency index need them, read through the verifier's ledger reader and
 * body checks, so both count exactly the entries `recgw verify` reasons about (malformed bodies are left out alike).
 * The verifier's findings are not repeated here: the report points to `recgw verify` for them.
 */
import { basename, join } from 'node:path';
import { ENTRY, type Officer, type SourceKind } from '../evidence/types.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { readLedger, type ByteSource } from '../verify/ledger-reader.js';
import * as B from '../verify/bodies.js';
import { segmentClock, type SegmentClock } from '../verify/sessions.js';
import { OfficerConfirmations } from '../verify/officer-confirmations.js';
import { hashHex } from '../evidence/segment-scheme.js';

export interface ReportSegment {
  name: string;
  /** The source's ID in the gateway's config (cam1, mic1). */
  source: string;
  kind: SourceKind;
  start: number;
  end: number;
  /** How its manifest's clock stood (evidence-format.md §7.1). */
  clock: SegmentClock;
  /** The session it names (a manifest may name a session this ledger never opened). */
  sessionId: string;
  /** Per source and session, from 0 (the manifest's `seq`). */
  seq: number;
  /** The segment.sealed entry's seq, and its time (when it was sealed). */
  ledgerSeq: number;
  sealedAt: number;
  /** The sealed file (the manifest's `stored`). */
  size: number;
  sha256: string;
  preEvent: boolean;
  /** The first segment after a resume: the officer speaks the reason in it. */
  explanation: boolean;
  /** Where the gateway was when it sealed the segment (the manifest's GPS fix), when it had a plausible one. */
  gps: SegmentPosition | null;
}

/** A manifest's GPS fix as the index keeps it: degrees (WGS 84, as gpsd gives them) and the fix's time. */
export interface SegmentPosition {
  lat: number;
  lon: number;
  at: number;
}

/** The manifest's fix when it is a position on Earth with a time; the verifier does not check it, so anything else is none. */
export function positionOf(gps: unknown): SegmentPosition | null {
  if (typeof gps !== 'object' || gps === null) return null;
  const g = gps as Record<string, unknown>;
  const { lat, lon } = g;
  const at = typeof g.time === 'string' ? Date.parse(g.time) : NaN;
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180 || Number.isNaN(at)) return null;
  return { lat, lon, at };
}

export interface ReportInterruption {
  /** The interruption.started entry's seq. */
  ledgerSeq: number;
  id: string;
  reason: string;
  origin: 'detected' | 'declared';
  start: number;
  end: number | null;
  /** Sources it affects; undefined = all. */
  sources?: string[];
  /** For officers and courts (detected: what happened in Chinese words; declared: the officer's note). */
  text?: string;
  /** Detected: a stable code for what happened, and the technical detail. */
  cause?: string;
  technical?: string;
  /** The officers' spoken reason was heard after its resume (explanation.heard names it; in ledgers before that
   * entry existed, interruption.ended's spokenExplanation flag, which said only that they were asked). */
  spokenExplanation: boolean;
  /** What ended it, when not a resume: session-closed, service-restart, mains-power. */
  endedBy?: string;
}

/** An officer's PIN confirmation as the entry carries it (the verifier checks it against the roster). */
export interface ReportConfirmation {
  badge: string;
  name: string;
  via: string;
  at: string;
}

export interface ReportStatement {
  ledgerSeq: number;
  text: string;
  officers: Officer[];
  /** When it was made (the body's `time`, else the entry's). */
  time: number;
  confirmations: ReportConfirmation[];
}

export interface ReportSession {
  deviceId: string;
  sessionId: string;
  matter: string;
  caseRef: string;
  party?: string;
  place?: string;
  officers: Officer[];
  /** The session.opened entry's seq. */
  openedSeq: number;
  start: number;
  /** null while it was never closed. */
  end: number | null;
  closed: boolean;
  closedBy: 'stopped' | 'terminated' | null;
  /** Sources that must record in it (session.opened `sources`). */
  declaredSources: string[];
  /** Distinct badges over the session's statements signed by two officers or more: with a roster in force, those who
   * confirmed with valid PINs, as `recgw verify` counts them (two are needed for a terminated session). */
  statementBadges: Set<string>;
  statements: ReportStatement[];
  /** explanation.missing entries: resumes no spoken explanation was heard after (each needs the statement). */
  unexplainedResumes: number;
  /** One per interruption.started entry, in ledger order. */
  interruptions: ReportInterruption[];
  segments: ReportSegment[];
}

/** A vehicle's signed return (upload.deadline_extended): it was away from `from` until `returned`. */
export interface ReportReturn {
  ledgerSeq: number;
  reason: string;
  from: number;
  returned: number;
}

export interface DeviceSessions {
  deviceId: string;
  entries: number;
  /** In the order they were opened. */
  sessions: ReportSession[];
  /** Every well-formed manifest, those naming no session of this ledger included, in ledger order. */
  segments: ReportSegment[];
  returns: ReportReturn[];
  /** With `entryTimes`: each entry's time (ms) by its seq (8 bytes an entry); else empty. */
  entryTimes: number[];
}

export interface ReadSessionsOptions {
  /** Keep every entry's time (the index judges entries receipts by the time of the entries they cover). */
  entryTimes?: boolean;
  /** Called every 4096 lines with the line number. */
  onProgress?: (lineNo: number) => void;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function confirmationsOf(v: unknown): ReportConfirmation[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
    .map((c) => ({ badge: str(c.badge) ?? '', name: str(c.name) ?? '', via: str(c.via) ?? '', at: str(c.at) ?? '' }));
}

/** A device's ledger: its folder, or the ledger's bytes and the folder's name (a device in a store, index/device-rows.ts). */
export type DeviceLedger = string | { folderName: string; ledger: ByteSource };

export async function readDeviceSessions(dir: DeviceLedger, caPems: string[], opts: ReadSessionsOptions = {}): Promise<DeviceSessions> {
  const src = typeof dir === 'string' ? { folderName: basename(dir), ledger: join(dir, LEDGER_FILE) } : dir;
  const sessions = new Map<string, ReportSession>();
  const statements = new Map<string, ReportStatement[]>();
  /** Per session, the badges of the statements two officers or more signed (OfficerConfirmations.signers). */
  const signedBy = new Map<string, Set<string>>();
  const segments: ReportSegment[] = [];
  const returns: ReportReturn[] = [];
  const entryTimes: number[] = [];
  const ok = (problem: string | undefined): boolean => problem === undefined;
  // The verifier's check of officers' PIN confirmations; its findings are `recgw verify`'s to report.
  const confirmations = new OfficerConfirmations(caPems, () => undefined);

  const read = await readLedger(
    src.ledger,
    src.folderName,
    caPems,
    ({ entry: e, lineNo }) => {
      const b = e.body;
      if (opts.entryTimes) entryTimes[e.seq] = Date.parse(e.time);
      switch (e.type) {
        case ENTRY.sessionOpened: {
          // A second session.opened with the same ID is the verifier's broken-chain; the first one counts.
          if (!ok(B.checkSessionOpened(b)) || sessions.has(b.sessionId as string)) return;
          sessions.set(b.sessionId as string, {
            deviceId: e.device,
            sessionId: b.sessionId as string,
            matter: b.matter as string,
            caseRef: b.caseRef as string,
            ...(str(b.party) !== undefined ? { party: b.party as string } : {}),
            ...(str(b.place) !== undefined ? { place: b.place as string } : {}),
            officers: b.officers as Officer[],
            openedSeq: e.seq,
            start: Date.parse(str(b.start) ?? e.time),
            end: null,
            closed: false,
            closedBy: null,
            declaredSources: Array.isArray(b.sources) ? (b.sources as unknown[]).filter((x): x is string => typeof x === 'string') : [],
            statementBadges: new Set(),
            unexplainedResumes: 0,
            statements: [],
            interruptions: [],
            segments: [],
          });
          return;
        }
        case ENTRY.sessionClosed: {
          const s = ok(B.checkSessionClosed(b)) ? sessions.get(b.sessionId as string) : undefined;
          if (!s || s.closed) return;
          s.closed = true;
          s.closedBy = b.reason as 'stopped' | 'terminated';
          s.end = Date.parse(str(b.end) ?? e.time);
          return;
        }
        case ENTRY.sessionStatement: {
          // Statements may come before or after the close; they are joined to their session at the end.
          if (!ok(B.checkStatement(b))) return;
          const id = b.sessionId as string;
          const list = statements.get(id) ?? [];
          list.push({ ledgerSeq: e.seq, text: b.text as string, officers: b.officers as Officer[], time: Date.parse(str(b.time) ?? e.time), confirmations: confirmationsOf(b.confirmations) });
          statements.set(id, list);
          const signed = confirmations.signers(e, new Set(sessions.get(id)?.officers.map((o) => o.badge)));
          const set = signedBy.get(id) ?? new Set<string>();
          if (signed.size >= 2) for (const badge of signed) set.add(badge);
          signedBy.set(id, set);
          return;
        }
        case ENTRY.rosterInstalled:
          confirmations.installed(lineNo, e);
          return;
        case ENTRY.explanationMissing: {
          const s = ok(B.checkExplanation(ENTRY.explanationMissing, b)) ? sessions.get(b.sessionId as string) : undefined;
          if (s) s.unexplainedResumes++;
          return;
        }
        case ENTRY.explanationHeard: {
          const s = ok(B.checkExplanation(ENTRY.explanationHeard, b)) ? sessions.get(b.sessionId as string) : undefined;
          const ids = new Set(b.interruptionIds as string[]);
          for (const i of s?.interruptions ?? []) if (ids.has(i.id)) i.spokenExplanation = true;
          return;
        }
        case ENTRY.segmentSealed: {
          if (!ok(B.checkManifest(b, e.suite))) return;
          const m = B.asManifest(b);
          const seg: ReportSegment = {
            name: m.segment,
            source: m.source.id,
            kind: m.source.kind,
            start: Date.parse(m.start),
            end: Date.parse(m.end),
            clock: segmentClock(m.clock),
            sessionId: m.sessionId,
            seq: m.seq,
            ledgerSeq: e.seq,
            sealedAt: Date.parse(e.time),
            size: m.stored.size,
            sha256: hashHex(m.stored),
            preEvent: m.preEvent === true,
            explanation: m.explanation === true,
            gps: positionOf(m.gps),
          };
          segments.push(seg);
          sessions.get(m.sessionId)?.segments.push(seg);
          return;
        }
        case ENTRY.interruptionStarted: {
          if (!ok(B.checkInterruptionStarted(b))) return;
          sessions.get(b.sessionId as string)?.interruptions.push({
            ledgerSeq: e.seq,
            id: b.interruptionId as string,
            reason: b.reason as string,
            origin: b.origin as 'detected' | 'declared',
            start: Date.parse(b.start as string),
            end: null,
            ...(Array.isArray(b.sources) ? { sources: b.sources as string[] } : {}),
            ...(str(b.text) !== undefined ? { text: b.text as string } : {}),
            ...(str(b.cause) !== undefined ? { cause: b.cause as string } : {}),
            ...(str(b.technical) !== undefined ? { technical: b.technical as string } : {}),
            spokenExplanation: false,
          });
          return;
        }
        case ENTRY.interruptionEnded: {
          if (!ok(B.checkInterruptionEnded(b))) return;
          const i = sessions.get(b.sessionId as string)?.interruptions.find((x) => x.id === b.interruptionId && x.end === null);
          if (!i) return;
          i.end = Date.parse(b.end as string);
          if (b.spokenExplanation === true) i.spokenExplanation = true;
          if (str(b.endedBy) !== undefined) i.endedBy = b.endedBy as string;
          return;
        }
        case ENTRY.uploadDeadlineExtended: {
          const away = b.away as Record<string, unknown> | undefined;
          const from = Date.parse(str(away?.from) ?? '');
          const returned = Date.parse(str(away?.returned) ?? '');
          if (typeof b.reason === 'string' && !Number.isNaN(from) && !Number.isNaN(returned)) returns.push({ ledgerSeq: e.seq, reason: b.reason, from, returned });
          return;
        }
        default:
          return;
      }
    },
    // Chain, signature and certificate problems are `recgw verify`'s to report, not the summary's.
    () => undefined,
    opts.onProgress ? { onProgress: (lineNo) => opts.onProgress!(lineNo) } : {},
  );
  for (const s of sessions.values()) {
    s.statements = statements.get(s.sessionId) ?? [];
    s.statementBadges = signedBy.get(s.sessionId) ?? new Set();
  }
  return { deviceId: read.deviceId, entries: read.entries, sessions: [...sessions.values()], segments, returns, entryTimes };
}
