/**
 * The shape of `recgw report --json`. A contract for the agency's own tools: documented in
 * docs/uplink-protocol.md, "recgw report". Add members, never rename or remove them.
 */

/** One interruption reason and how many interruption.started entries gave it. */
export interface ReasonCount {
  reason: string;
  /** The Chinese label (docs/evidence-format.md §9), or null for a code outside the vocabulary. */
  zh: string | null;
  count: number;
}

/** The latest item, relative to its deadline. */
export interface WorstLate {
  deviceId: string;
  kind: 'segment' | 'entries';
  /** The segment name, or "entries through seq N". */
  item: string;
  deadline: string;
  storedAt: string;
  /** storedAt minus deadline, in seconds (millisecond precision). */
  lateSeconds: number;
}

/** The figures reported for a device, an officer, a matter and the whole store alike. */
export interface Totals {
  sessions: number;
  /** Sessions opened and never closed (recgw verify reports them). */
  unclosed: number;
  recorded: {
    /** Camera footage of sessions that have a camera; microphone footage of those that have none. */
    seconds: number;
    cameraSessions: number;
    microphoneSessions: number;
    /** Sessions with no sealed segment at all. */
    noFootageSessions: number;
  };
  interruptions: { total: number; byReason: ReasonCount[] };
  /** Sessions closed as "terminated", and how many of them lack a statement confirmed by two officers. */
  terminated: { sessions: number; statementMissing: number };
  /** Sessions with a resume after which no spoken explanation was heard, and how many of them lack the statement. */
  unexplained: { sessions: number; statementMissing: number };
  /** Items (segment files, entries receipts) with an acceptable receipt: on time when storedAt <= deadline. */
  uploads: { onTime: number; late: number; worst: WorstLate | null };
  /**
   * Segments timed by a clock nobody measured as synchronised: `unsynchronisedSegments` (manifest clock.synced
   * false), `assumedSegments` (synchronised only by config time.assumeSynchronised), and the `sessions` with any.
   */
  clock: { unsynchronisedSegments: number; assumedSegments: number; sessions: number };
}

/** A receipts.jsonl line that was not counted, with its 1-based line number. */
export interface LineProblem {
  line: number;
  problem: string;
}

export interface ReceiptsSummary {
  /** Whether receipts.jsonl exists in the device folder. */
  present: boolean;
  /** Non-empty lines, plus empty lines other than the file's end. */
  lines: number;
  /** Receipts counted toward uploads (well-formed and, with --ca, genuine). */
  accepted: number;
  /** Accepted receipts for an item that an earlier receipt already covers (the earliest storedAt counts). */
  duplicates: number;
  /** Not JSON, or not shaped like a receipt. */
  malformed: LineProblem[];
  /** With --ca: certificate or signature fails; always: names another device. */
  invalid: LineProblem[];
}

/** An alert the agency received as it happened (uplink-protocol.md §8). */
export interface AlertItem {
  seq: number;
  kind: 'interruption-started' | 'interruption-ended' | 'session-ended-early';
  sessionId: string | null;
  /** The interruption's reason code (for an end, its start's, when that alert is here too), else null. */
  reason: string | null;
  zh: string | null;
  /** "declared" or "detected" for an interruption's start, else null. */
  origin: string | null;
  /** When it happened, by the gateway's clock (the interruption's start or end, the session's end). */
  eventAt: string;
  /** When the receiver recorded it, by its clock (the earliest, when it came more than once). */
  receivedAt: string;
  /** receivedAt minus eventAt. */
  delaySeconds: number;
  /** The gateway sent it late: it waited for a connection. */
  late: boolean;
  /** The signed entry's body. */
  body: Record<string, unknown>;
}

export interface AlertsSummary {
  /** Whether alerts.jsonl exists in the device folder. */
  present: boolean;
  lines: number;
  /** Lines for an alert an earlier line already has (receivers sharing a store may both record one). */
  repeated: number;
  malformed: LineProblem[];
  /** Names another device, is not an alert's entry, or (with --ca) fails the certificate or signature check. */
  invalid: LineProblem[];
  /** In ledger order. */
  items: AlertItem[];
}

export interface DeviceSummary extends Totals {
  deviceId: string;
  /** The device folder's name inside the store. */
  folder: string;
  /** Well-formed ledger lines read. */
  entries: number;
  receipts: ReceiptsSummary;
  /**
   * Uploads are judged against the rule (24 h after an item ends; for a vehicle, after its signed return to base),
   * not the deadline the gateway states: `beyondRule` items the gateway gave a later deadline than the rule's (it is
   * configured beyond the rule), `ruleUnknown` items whose end the ledger does not give (judged by the stated one).
   */
  deadlines: { beyondRule: number; ruleUnknown: number };
  alerts: AlertsSummary;
}

export interface OfficerSummary extends Totals {
  badge: string;
  name: string;
  /** Other names written with the same badge (a typing mistake somewhere), sorted. */
  otherNames: string[];
}

export interface MatterSummary extends Totals {
  matter: string;
  zh: string | null;
}

/** A unit's figures (recgw report --units): its devices' added up (src/report/units.ts). */
export interface UnitSummary extends Totals {
  /** The unit's name in the units file; null for the devices no unit lists. */
  unit: string | null;
  /** The store's devices it counts, in folder order. */
  devices: string[];
}

export interface StoreReport {
  v: 1;
  store: string;
  /** How recorded time is counted; fixed text so a reader knows without the docs. */
  recordedBasis: 'camera, else microphone';
  /** True when --ca was given and receipts were checked with it. */
  receiptsChecked: boolean;
  devices: DeviceSummary[];
  officers: OfficerSummary[];
  matters: MatterSummary[];
  /** With --units only: per unit, in the units file's order, then the devices it does not list. */
  units?: UnitSummary[];
  total: Totals;
}
