/** What the verifier reports. The JSON shape is a contract (see docs/evidence-format.md, "Verifier output"). */
export type FindingKind =
  | 'bad-signature'
  | 'untrusted-certificate'
  | 'broken-chain'
  | 'missing-segment'
  | 'altered-segment'
  | 'unexplained-gap'
  | 'unclosed-session'
  | 'malformed'
  /** A segment.deleted entry not covered by a genuine receipt for that file recorded before it. */
  | 'deleted-without-receipt'
  /** A receipt.received entry whose receipt is not genuine (signature, certificate, shape or device). */
  | 'bad-receipt'
  /** A manifest whose data key is not wrapped for the trusted agency encryption certificate in force (or the key given). */
  | 'wrong-encryption-key';

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
  interruptions: { reason: string; start: string; end: string | null; origin: string }[];
  segments: number;
}

export interface DeviceReport {
  deviceId: string;
  entries: number;
  segments: number;
  /** Extra beyond the contract, present when not 0: sealed files absent because a receipted deletion removed them. */
  deletedSegments?: number;
  sessions: SessionReport[];
}

export interface VerifyReport {
  ok: boolean;
  devices: DeviceReport[];
  findings: Finding[];
}
