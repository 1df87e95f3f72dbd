/** What the verifier reports. The JSON shape is a contract (see docs/evidence-format.md, "Verifier output"). */
export type FindingKind =
  | 'bad-signature'
  | 'untrusted-certificate'
  | 'broken-chain'
  | 'missing-segment'
  | 'altered-segment'
  | 'unexplained-gap'
  | 'unclosed-session'
  | 'malformed';

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
  sessions: SessionReport[];
}

export interface VerifyReport {
  ok: boolean;
  devices: DeviceReport[];
  findings: Finding[];
}
