/** The receiver's log line for a recorded alert: what happened, to which session, and how long it took to arrive. */
import type { Level } from '../util/log.js';
import { eventTime, type CheckedAlert } from '../uplink/alert-wire.js';
import { alertDelaySeconds, alertText } from '../uplink/alert-words.js';
import type { AlertRecord } from './alerts-file.js';

export function alertLogLine(a: CheckedAlert, r: AlertRecord): { level: Level; msg: string; fields: Record<string, unknown> } {
  const e = a.entry;
  return {
    // An interruption's end is good news; its start and an early end are what a supervisor must act on.
    level: a.kind === 'interruption-ended' ? 'info' : 'warn',
    msg: `alert from ${r.device}: ${alertText(a.kind, e.body)}`,
    fields: {
      device: r.device,
      kind: a.kind,
      sessionId: e.body.sessionId,
      seq: e.seq,
      event: eventTime(e),
      delaySeconds: alertDelaySeconds(e, r.receivedAt),
      late: r.late,
    },
  };
}
