import type { LogSummary } from './agency-evidence.js';

/** What the verifier reports. The JSON shape is a contract (see docs/evidence-format.md, "Verifier output"). */
export type FindingKind =
  | 'bad-signature'
  | 'untrusted-certificate'
  | 'broken-chain'
  /** An entry in another suite than the entry before it, without the rotation that allows it (evidence-format.md §17.6). */
  | 'suite-switch'
  | 'missing-segment'
  | 'altered-segment'
  | 'unexplained-gap'
  | 'unclosed-session'
  | 'malformed'
  /** A segment.deleted entry not covered by a genuine receipt for that file recorded before it. */
  | 'deleted-without-receipt'
  /** A receipt (a receipt.received entry or a receipts.jsonl line) that is not genuine. */
  | 'bad-receipt'
  /** The ledger or a manifest differs from what an agency receipt or the agency log says was stored. */
  | 'receipt-contradicted'
  /** The ledger (or a device folder) is shorter than what the agency receipted or logged. */
  | 'rollback'
  /** The agency log itself is damaged, unsigned, or inconsistent with a checkpoint it issued. */
  | 'bad-log'
  /**
   * A gm agency log whose current checkpoint lacks a valid SM2 signature by the log's SM2 certificate from the CA, or
   * any checkpoint (a receipt's, the witnessed one) whose SM2 line does not verify (evidence-format.md §17.9).
   */
  | 'bad-log-sm2'
  /** An entry in a receiver store that the agency log does not hold: the agency never accepted it. */
  | 'unlogged'
  /** An entry signed by a key whose certificate was revoked before the ledger reached it. */
  | 'revoked-key'
  /** An entry dated earlier than one before it by more than the tolerance, without a clock.stepped entry. */
  | 'time-reversed'
  /** A manifest whose data key is not wrapped for the trusted agency encryption certificate in force (or the key given). */
  | 'wrong-encryption-key'
  /** A statement, once a roster is in force, without two valid PIN confirmations of distinct officers of its session. */
  | 'unconfirmed-statement'
  /** A session's opening without every officer's valid PIN confirmation, or an officer's early end without two (roster in force). */
  | 'unconfirmed-session'
  /** A retention deletion event (deletions.jsonl) the agency did not sign or log, or that misstates the files or the session. */
  | 'bad-deletion'
  /** A retention deletion made before the session's term ran out, or with a term shorter than the rules allow. */
  | 'deletion-within-term'
  /** A retention deletion of a session whose class is not non-evidence. */
  | 'deletion-of-evidence';

export interface Finding {
  kind: FindingKind;
  deviceId: string;
  detail: string;
}

export interface GapReport {
  start: string;
  end: string;
  explained: boolean;
  reason: string | null;
  /** The source that has no footage in this span. */
  source: string;
}

export interface SessionReport {
  sessionId: string;
  matter: string;
  caseRef: string;
  start: string;
  end: string | null;
  recordedSeconds: number;
  gaps: GapReport[];
  /** Extras beyond the contract, for the human report and `recgw report`. */
  officers: { name: string; badge: string }[];
  closedBy: 'stopped' | 'terminated' | null;
  statement: boolean;
  /** Resumes the officers' spoken explanation was heard after, and those it was not (these need the statement). */
  explanations?: { heard: number; missing: number };
  interruptions: { reason: string; start: string; end: string | null; origin: string }[];
  segments: number;
  /**
   * Of those segments, how many were timed by a clock not known to be synchronised (manifest `clock.synced` false)
   * and how many by one synchronised only by assumption (`clock.assumed`): flagged, not findings.
   */
  clock: { unsynchronised: number; assumed: number };
}

export interface DeviceReport {
  deviceId: string;
  /** Extra: whether agency receipts or the agency log vouch for this device's ledger (a receiver store), or only the device (an export). */
  agency?: boolean;
  /** Extra: branches of this ledger a newer certificate superseded (evidence-format.md §5.6), kept aside in the folder. */
  superseded?: { from: number; through: number; accepted: string; folder: string }[];
  entries: number;
  segments: number;
  /** Extra beyond the contract, present when not 0: sealed files absent because a receipted deletion removed them. */
  deletedSegments?: number;
  /** Extra, present when not 0: sealed files the agency deleted when their retention term ran out (deletions.jsonl). */
  retentionDeleted?: number;
  sessions: SessionReport[];
}

export interface VerifyReport {
  ok: boolean;
  devices: DeviceReport[];
  findings: Finding[];
  /** Extra: the agency log the store was checked against, when it has one. */
  log?: LogSummary;
}
