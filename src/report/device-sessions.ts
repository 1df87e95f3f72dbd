/**
 * One device's sessions as the report needs them, read through the verifier's ledger reader and body checks, so
 * the report counts exactly the entries `recgw verify` reasons about (malformed bodies are left out alike).
 * The verifier's findings are not repeated here: the report points to `recgw verify` for them.
 */
import { basename, join } from 'node:path';
import { ENTRY, type Officer, type SourceKind } from '../evidence/types.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { readLedger } from '../verify/ledger-reader.js';
import * as B from '../verify/bodies.js';
import { segmentClock, type SegmentClock } from '../verify/sessions.js';
import { OfficerConfirmations } from '../verify/officer-confirmations.js';

export interface ReportSegment {
  name: string;
  /** The source's ID in the gateway's config (cam1, mic1). */
  source: string;
  kind: SourceKind;
  start: number;
  end: number;
  /** How its manifest's clock stood (evidence-format.md §7.1). */
  clock: SegmentClock;
}

export interface ReportSession {
  deviceId: string;
  sessionId: string;
  matter: string;
  officers: Officer[];
  closed: boolean;
  closedBy: 'stopped' | 'terminated' | null;
  /** Distinct badges over the session's statements signed by two officers or more: with a roster in force, those who
   * confirmed with valid PINs, as `recgw verify` counts them (two are needed for a terminated session). */
  statementBadges: Set<string>;
  /** explanation.missing entries: resumes no spoken explanation was heard after (each needs the statement). */
  unexplainedResumes: number;
  interruptionReasons: string[];
  segments: ReportSegment[];
}

export interface DeviceSessions {
  deviceId: string;
  entries: number;
  /** In the order they were opened. */
  sessions: ReportSession[];
}

export async function readDeviceSessions(dir: string, caPems: string[]): Promise<DeviceSessions> {
  const sessions = new Map<string, ReportSession>();
  const statements = new Map<string, Set<string>>();
  const ok = (problem: string | undefined): boolean => problem === undefined;
  // The verifier's check of officers' PIN confirmations; its findings are `recgw verify`'s to report.
  const confirmations = new OfficerConfirmations(caPems, () => undefined);

  const read = await readLedger(
    join(dir, LEDGER_FILE),
    basename(dir),
    caPems,
    ({ entry: e, lineNo }) => {
      const b = e.body;
      switch (e.type) {
        case ENTRY.sessionOpened: {
          // A second session.opened with the same ID is the verifier's broken-chain; the first one counts.
          if (!ok(B.checkSessionOpened(b)) || sessions.has(b.sessionId as string)) return;
          sessions.set(b.sessionId as string, {
            deviceId: e.device,
            sessionId: b.sessionId as string,
            matter: b.matter as string,
            officers: b.officers as Officer[],
            closed: false,
            closedBy: null,
            statementBadges: new Set(),
            unexplainedResumes: 0,
            interruptionReasons: [],
            segments: [],
          });
          return;
        }
        case ENTRY.sessionClosed: {
          const s = ok(B.checkSessionClosed(b)) ? sessions.get(b.sessionId as string) : undefined;
          if (!s || s.closed) return;
          s.closed = true;
          s.closedBy = b.reason as 'stopped' | 'terminated';
          return;
        }
        case ENTRY.sessionStatement: {
          // Statements may come before or after the close; they are joined to their session at the end.
          if (!ok(B.checkStatement(b))) return;
          const signed = confirmations.signers(e, new Set(sessions.get(b.sessionId as string)?.officers.map((o) => o.badge)));
          const set = statements.get(b.sessionId as string) ?? new Set<string>();
          if (signed.size >= 2) for (const badge of signed) set.add(badge);
          statements.set(b.sessionId as string, set);
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
        case ENTRY.segmentSealed: {
          if (!ok(B.checkManifest(b))) return;
          const m = B.asManifest(b);
          sessions.get(m.sessionId)?.segments.push({
            name: m.segment,
            source: m.source.id,
            kind: m.source.kind,
            start: Date.parse(m.start),
            end: Date.parse(m.end),
            clock: segmentClock(m.clock),
          });
          return;
        }
        case ENTRY.interruptionStarted: {
          if (!ok(B.checkInterruptionStarted(b))) return;
          sessions.get(b.sessionId as string)?.interruptionReasons.push(b.reason as string);
          return;
        }
        default:
          return;
      }
    },
    // Chain, signature and certificate problems are `recgw verify`'s to report, not the summary's.
    () => undefined,
  );
  for (const s of sessions.values()) s.statementBadges = statements.get(s.sessionId) ?? new Set();
  return { deviceId: read.deviceId, entries: read.entries, sessions: [...sessions.values()] };
}
