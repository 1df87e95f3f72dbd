/**
 * The desk's live alerts (docs/desk.md §4, /alerts): what a supervisor must hear at once (004 规定 §8) and what is
 * about to go wrong. From the index: the alerts the gateways sent as they happened (table `alerts`, from each device's
 * alerts.jsonl: interruptions started and ended, sessions ended early), and segments without a receipt whose
 * deadline by the rule (24 h after a segment ends; a vehicle's after its return to base) is near or past, one alert per
 * session and state; gateways offline and the agency-log forks gateways report, from their status (gateway-watch.ts).
 * Each is acknowledged once, by a named account, with a note (table desk_alert_acks).
 */
import type { Queryable } from '../index/database.js';

/** A deadline this close (or closer) is "about to be missed". */
export const NEAR_MS = 2 * 3600_000;
/** At most this many of each kind on the page, the newest first. */
const LIMIT = 500;

export type AlertKind = 'interruption-started' | 'interruption-ended' | 'session-ended-early' | 'deadline-near' | 'deadline-missed' | 'gateway-offline' | 'log-alarm';

export interface DeskAlert {
  /** What names it for its acknowledgement. */
  key: string;
  kind: AlertKind;
  device: string;
  session: string | null;
  /** When it happened (by the gateway's clock), or the deadline. */
  at: number;
  /** When the agency learnt it (alerts: when the receiver recorded it). */
  received: number | null;
  reason: string | null;
  origin: string | null;
  late: boolean;
  /** Segments without a receipt (deadline alerts). */
  segments: number;
  /** The witness that reported a log alarm (a receiver's; null for a gateway's own finding). */
  witness?: string | null;
  ack: { name: string; at: number; note: string } | undefined;
}

type AlertRow = { device_id: string; ledger_seq: number | string; kind: AlertKind; session_id: string | null; reason: string | null; origin: string | null; event_ms: number | string; received_ms: number | string; late: number };
type DueRow = { device_id: string; session_id: string; n: number | string; due: number | string };

type StatusRow = { device_id: string; state: 'online' | 'offline'; since_ms: number | string; seen_ms: number | string; log_alarms: string };

/** A status under a receiver's name (receiver-status.ts: the forks its witnesses report), not a gateway's. */
const isReceiver = (name: string): boolean => name.startsWith('receiver:');

/**
 * The gateways' status as the desk's watch keeps it (gateway-watch.ts): a gateway that said it went offline, or has
 * been silent longer than `offlineMs` (reason `offline` or `silent`), one alert per episode (its key holds since when);
 * and each agency-log alarm a gateway raises (reason: forked, shrank, bad-proof, bad-signature; origin: the log), one per alarm.
 * A receiver publishes a status only to carry what its witnesses report (one alert per witness and alarm); it sends
 * none while all is well, so its silence says nothing about it being offline.
 */
async function statusAlerts(db: Queryable, now: number, offlineMs: number): Promise<DeskAlert[]> {
  const rows = await db.query<StatusRow>('SELECT device_id, state, since_ms, seen_ms, log_alarms FROM desk_gateway_status ORDER BY device_id LIMIT $1', [LIMIT]);
  const out: DeskAlert[] = [];
  const base = { session: null, received: null, origin: null, late: false, segments: 0, ack: undefined };
  for (const r of rows) {
    const seen = Number(r.seen_ms);
    if (isReceiver(r.device_id)) {
      // Nothing: see above.
    } else if (r.state === 'offline') out.push({ ...base, key: `gateway-offline:${r.device_id}:${Number(r.since_ms)}`, kind: 'gateway-offline', device: r.device_id, at: Number(r.since_ms), reason: 'offline' });
    else if (now - seen > offlineMs) out.push({ ...base, key: `gateway-offline:${r.device_id}:${seen}`, kind: 'gateway-offline', device: r.device_id, at: seen, reason: 'silent' });
    for (const a of JSON.parse(r.log_alarms) as Record<string, unknown>[]) {
      const level = typeof a.level === 'string' ? a.level : 'unknown';
      const at = typeof a.at === 'string' && !Number.isNaN(Date.parse(a.at)) ? Date.parse(a.at) : seen;
      const witness = isReceiver(r.device_id) && typeof a.witness === 'string' ? a.witness : null;
      const key = `log-alarm:${r.device_id}:${level}:${at}${witness !== null ? `:${witness}` : ''}`;
      out.push({ ...base, key, kind: 'log-alarm', device: r.device_id, at, reason: level, origin: typeof a.origin === 'string' ? a.origin : null, witness });
    }
  }
  return out;
}

/** Every alert now, unacknowledged first, each group newest first; a gateway silent longer than `offlineMs` is offline. */
export async function liveAlerts(db: Queryable, now: number, offlineMs = 5 * 60_000): Promise<DeskAlert[]> {
  const sent = await db.query<AlertRow>(
    'SELECT device_id, ledger_seq, kind, session_id, reason, origin, event_ms, received_ms, late FROM alerts ORDER BY received_ms DESC, device_id, ledger_seq DESC LIMIT $1',
    [LIMIT],
  );
  const due = await db.query<DueRow>(
    `SELECT device_id, session_id, COUNT(*) AS n, MIN(deadline_ms) AS due FROM segments
      WHERE stored_ms IS NULL AND deadline_ms < $1 GROUP BY device_id, session_id ORDER BY due DESC LIMIT $2`,
    [now + NEAR_MS, LIMIT],
  );
  const out: DeskAlert[] = [];
  const seen = new Set<string>();
  for (const r of sent) {
    const key = `alert:${r.device_id}:${r.ledger_seq}:${r.kind}`;
    // The same entry at the same seq twice (a fork the witnesses would report) is shown once here.
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      key,
      kind: r.kind,
      device: r.device_id,
      session: r.session_id,
      at: Number(r.event_ms),
      received: Number(r.received_ms),
      reason: r.reason,
      origin: r.origin,
      late: Number(r.late) === 1,
      segments: 0,
      ack: undefined,
    });
  }
  for (const r of due) {
    const kind = Number(r.due) <= now ? 'deadline-missed' : 'deadline-near';
    out.push({ key: `${kind}:${r.device_id}:${r.session_id}`, kind, device: r.device_id, session: r.session_id, at: Number(r.due), received: null, reason: null, origin: null, late: false, segments: Number(r.n), ack: undefined });
  }
  out.push(...(await statusAlerts(db, now, offlineMs)));
  const acks = await acksOf(db, out.map((a) => a.key));
  for (const a of out) a.ack = acks.get(a.key);
  const newest = (a: DeskAlert): number => a.received ?? a.at;
  return out.sort((a, b) => Number(a.ack !== undefined) - Number(b.ack !== undefined) || newest(b) - newest(a));
}

async function acksOf(db: Queryable, keys: string[]): Promise<Map<string, { name: string; at: number; note: string }>> {
  const out = new Map<string, { name: string; at: number; note: string }>();
  for (let i = 0; i < keys.length; i += 200) {
    const part = keys.slice(i, i + 200);
    const rows = await db.query<{ alert_key: string; name: string; at_ms: number | string; note: string }>(
      `SELECT alert_key, name, at_ms, note FROM desk_alert_acks WHERE alert_key IN (${part.map((_, n) => `$${n + 1}`).join(', ')})`,
      part,
    );
    for (const r of rows) out.set(r.alert_key, { name: r.name, at: Number(r.at_ms), note: r.note });
  }
  return out;
}

/** Acknowledge an alert as `name`: true when this was its first acknowledgement (a second one changes nothing). */
export async function acknowledge(db: Queryable, key: string, name: string, note: string, now: number): Promise<boolean> {
  const rows = await db.query('INSERT INTO desk_alert_acks (alert_key, name, at_ms, note) VALUES ($1, $2, $3, $4) ON CONFLICT (alert_key) DO NOTHING RETURNING alert_key', [key, name, now, note]);
  return rows.length === 1;
}
