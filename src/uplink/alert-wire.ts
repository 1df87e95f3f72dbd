/**
 * Alerts on the wire (docs/uplink-protocol.md §8): an interruption's start and end and a session's early end,
 * published the moment the gateway writes them into its ledger, so the agency's supervisor learns of them in seconds
 * rather than when the upload arrives. An alert carries the signed ledger line itself and the device certificate
 * that signed it: whoever holds the agency CA checks it as the receiver checks a certificate entry. Shared by the
 * gateway, the receiver and the report; decoders and checks return a problem instead of throwing.
 */
import type { KeyObject } from 'node:crypto';
import { lineHash, lineSignedBy, parseLine, type LedgerEntry } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { ROLE_DEVICE } from '../pki/ca.js';
import { checkCertificate, parseCertificate } from '../pki/certs.js';
import { isIso, parseJson, shown, type Decoded } from './wire.js';

export type AlertKind = 'interruption-started' | 'interruption-ended' | 'session-ended-early';
export const ALERT_KINDS: readonly AlertKind[] = ['interruption-started', 'interruption-ended', 'session-ended-early'];

/** Entry types an alert can carry. */
export const ALERT_ENTRY_TYPES: readonly string[] = [ENTRY.interruptionStarted, ENTRY.interruptionEnded, ENTRY.sessionClosed];
/** Entry types the retained alert state follows: the alerts' and the session's opening. */
export const STATE_ENTRY_TYPES: readonly string[] = [...ALERT_ENTRY_TYPES, ENTRY.sessionOpened];

/** An alert is one ledger line (a few KiB at most) and a certificate: anything larger is not one. */
export const MAX_ALERT_BYTES = 64 * 1024;
/** Sent later than this after its entry was written (it waited for a connection), an alert says it is late. */
export const LATE_AFTER_MS = 30_000;

export interface AlertMessage {
  v: 1;
  type: 'alert';
  device: string;
  kind: AlertKind;
  /** The ledger line exactly as in ledger.jsonl, signed by the device. */
  line: string;
  /** The PEM device certificate in force at that line (the last ledger.opened or certificate.installed before it). */
  cert: string;
  /** When the gateway published it, by its clock. */
  sent: string;
  /** Sent more than LATE_AFTER_MS after the entry was written. */
  late: boolean;
}

/**
 * A session ends early when an interruption never resumed (`terminated`), or when something other than its officers
 * ended it (`by`: the service stopping, the UPS forcing a shutdown).
 */
export function endedEarly(body: Record<string, unknown>): boolean {
  return body.reason === 'terminated' || (typeof body.by === 'string' && body.by !== 'officer');
}

/** The kind of alert an entry is, or undefined when it is none (a normal stop, any other type). */
export function alertKind(e: { type: string; body: Record<string, unknown> }): AlertKind | undefined {
  if (e.type === ENTRY.interruptionStarted) return 'interruption-started';
  if (e.type === ENTRY.interruptionEnded) return 'interruption-ended';
  if (e.type === ENTRY.sessionClosed && endedEarly(e.body)) return 'session-ended-early';
  return undefined;
}

/** When the event happened by the gateway's clock: the interruption's start or end, the session's end; else the entry's time. */
export function eventTime(e: { type: string; time: string; body: Record<string, unknown> }): string {
  const t = e.type === ENTRY.interruptionStarted ? e.body.start : e.body.end;
  return isIso(t) ? t : e.time;
}

export function decodeAlert(payload: Buffer, device: string): Decoded<AlertMessage> {
  if (payload.length > MAX_ALERT_BYTES) return { ok: false, problem: `the alert is ${payload.length} bytes, more than the ${MAX_ALERT_BYTES} allowed` };
  const d = parseJson(payload, 'alert', device);
  if (!d.ok) return d;
  const { kind, line, cert, sent, late } = d.value;
  if (!ALERT_KINDS.includes(kind as AlertKind)) return { ok: false, problem: `the alert's kind ${shown(kind)} is not one of ${ALERT_KINDS.join(', ')}` };
  if (typeof line !== 'string' || line.length === 0 || line.includes('\n')) return { ok: false, problem: "the alert's line is not a one-line string" };
  if (typeof cert !== 'string' || !cert.includes('-----BEGIN CERTIFICATE-----')) return { ok: false, problem: "the alert's cert is not a PEM certificate" };
  if (!isIso(sent) || typeof late !== 'boolean') return { ok: false, problem: "the alert's sent is not an ISO UTC time or its late not a boolean" };
  return { ok: true, value: d.value as unknown as AlertMessage };
}

export interface CheckedAlert {
  entry: LedgerEntry;
  /** The line's chain hash (evidence-format.md §4.3): with `seq`, what names the entry. */
  hash: string;
  kind: AlertKind;
}

/** An alert's entry read (not checked): a well-formed entry of `device`, of a type that makes the alert it says it is. */
export function readAlertEntry(a: Pick<AlertMessage, 'kind' | 'line'>, device: string): Decoded<CheckedAlert> {
  const p = parseLine(a.line);
  if (!p.ok) return { ok: false, problem: `the alert's ledger line is not a well-formed entry: ${p.error}` };
  const e = p.entry;
  if (e.device !== device) return { ok: false, problem: `the alert's ledger line names device ${shown(e.device)}, not ${JSON.stringify(device)} of its topic` };
  const kind = alertKind(e);
  if (kind === undefined) return { ok: false, problem: `a ${e.type} entry (seq ${e.seq}) is not an alert: only an interruption's start or end, or a session's early end, are` };
  if (kind !== a.kind) return { ok: false, problem: `the alert says ${a.kind} but its entry (seq ${e.seq}) is ${kind}` };
  return { ok: true, value: { entry: e, hash: lineHash(a.line), kind } };
}

/**
 * Check an alert as the receiver checks a certificate entry (uplink-protocol.md §5): its entry is read as above and
 * signed with the key of the certificate that came with it, which must be the agency CA's device certificate for
 * `device`, valid at the entry's time. Whether that certificate is revoked, and whether the line agrees with a
 * stored ledger, are for the caller who knows.
 */
export function checkAlert(a: Pick<AlertMessage, 'kind' | 'line' | 'cert'>, device: string, caPems: string[]): Decoded<CheckedAlert> {
  const r = readAlertEntry(a, device);
  if (!r.ok) return r;
  const e = r.value.entry;
  const problems = checkCertificate(a.cert, caPems, { at: new Date(e.time), commonName: device, role: ROLE_DEVICE });
  if (problems.length > 0) return { ok: false, problem: `the alert's certificate is not the agency CA's device certificate for ${device}: ${problems.map((x) => x.detail).join('; ')}` };
  const key: KeyObject | undefined = parseCertificate(a.cert)?.publicKey;
  if (!key || !lineSignedBy(a.line, key)) return { ok: false, problem: `the signature of the alert's ${e.type} entry (seq ${e.seq}) does not verify with the certificate that came with it` };
  return r;
}

/** An interruption open now, as the retained state lists it. */
export interface OpenInterruption {
  /** The seq and hash of its interruption.started entry (its alert). */
  seq: number;
  hash: string;
  sessionId: string;
  interruptionId: string;
  reason: string;
  origin: string;
  start: string;
  text?: string;
}

/** The retained `recgw/<d>/alert/state`: the device's latest session and its open interruptions. */
export interface AlertState {
  v: 1;
  type: 'alert-state';
  device: string;
  /** When the gateway published it. */
  at: string;
  /** The last ledger entry it reflects, or null before any session. */
  through: { seq: number; hash: string } | null;
  session: null | {
    sessionId: string;
    state: 'recording' | 'interrupted' | 'closed';
    start: string;
    end?: string;
    reason?: string;
    endedEarly?: boolean;
  };
  open: OpenInterruption[];
}

