/**
 * A device folder's alerts.jsonl (docs/uplink-protocol.md §8) as the report lists it: each alert with its session,
 * when it happened and how long it took to reach the agency. A bad line is counted and named by its line number,
 * never fatal; with the CA, an alert whose signature or certificate fails is not listed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonByCode } from '../evidence/vocabulary.js';
import { isENOENT } from '../util/errors.js';
import { ALERTS_FILE, type AlertRecord } from '../receiver/alerts-file.js';
import { checkAlert, eventTime, readAlertEntry } from '../uplink/alert-wire.js';
import { alertDelaySeconds } from '../uplink/alert-words.js';
import type { AlertItem, AlertsSummary } from './types.js';

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Read the alerts of one device, in ledger order. `caPems` undefined = signatures are not checked. */
export function readAlerts(dir: string, deviceId: string, caPems: string[] | undefined): AlertsSummary {
  let text: string;
  try {
    text = readFileSync(join(dir, ALERTS_FILE), 'utf8');
  } catch (err) {
    if (isENOENT(err)) return AlertTally.none();
    throw err;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const tally = new AlertTally(deviceId, caPems);
  for (const raw of lines) tally.line(raw);
  return tally.result();
}

/** An alerts file's lines classified one at a time, as they are read (a file whole, or a store's object streamed). */
export class AlertTally {
  private readonly out: AlertsSummary = { present: true, lines: 0, repeated: 0, malformed: [], invalid: [], items: [] };
  private readonly items = new Map<string, AlertItem>();

  constructor(
    private readonly deviceId: string,
    private readonly caPems: string[] | undefined,
  ) {}

  /** A device without an alerts file. */
  static none(): AlertsSummary {
    return { present: false, lines: 0, repeated: 0, malformed: [], invalid: [], items: [] };
  }

  /** The next line, without its newline. */
  line(raw: string): void {
    const { out, items } = this;
    const line = ++out.lines;
    let r: Partial<AlertRecord>;
    try {
      r = JSON.parse(raw) as Partial<AlertRecord>;
    } catch {
      return void out.malformed.push({ line, problem: raw.trim() === '' ? 'empty line' : 'not valid JSON' });
    }
    if (typeof r !== 'object' || r === null || typeof r.line !== 'string' || typeof r.cert !== 'string' || typeof r.kind !== 'string' || Number.isNaN(Date.parse(String(r.receivedAt)))) {
      return void out.malformed.push({ line, problem: 'not an alert record (line, cert, kind, receivedAt)' });
    }
    // Without the CA the record is taken as the receiver wrote it, its entry read but not checked.
    const a = { kind: r.kind as AlertItem['kind'], line: r.line, cert: r.cert };
    const c = this.caPems ? checkAlert(a, this.deviceId, this.caPems) : readAlertEntry(a, this.deviceId);
    if (!c.ok) return void out.invalid.push({ line, problem: c.problem });
    const e = c.value.entry;
    const key = `${e.seq}:${c.value.hash}`;
    const seen = items.get(key);
    if (seen) out.repeated++;
    if (seen && Date.parse(seen.receivedAt) <= Date.parse(r.receivedAt!)) return;
    const code = c.value.kind === 'interruption-started' ? str(e.body.reason) : null;
    items.set(key, {
      seq: e.seq,
      kind: c.value.kind,
      sessionId: str(e.body.sessionId),
      reason: code,
      zh: code === null ? null : (reasonByCode(code)?.zh ?? null),
      origin: str(e.body.origin),
      eventAt: eventTime(e),
      receivedAt: r.receivedAt!,
      delaySeconds: alertDelaySeconds(e, r.receivedAt!),
      late: r.late === true,
      body: e.body,
    });
  }

  result(): AlertsSummary {
    const { out } = this;
    out.items = [...this.items.values()].sort((a, b) => a.seq - b.seq);
    // An interruption's end names its reason through its start.
    const started = new Map(out.items.filter((x) => x.kind === 'interruption-started').map((x) => [x.body.interruptionId, x]));
    for (const x of out.items) {
      const s = x.kind === 'interruption-ended' ? started.get(x.body.interruptionId) : undefined;
      if (s) [x.reason, x.zh] = [s.reason, s.zh];
    }
    return out;
  }
}
