/**
 * The retained alert state (docs/uplink-protocol.md §8) folded from the ledger: the latest session, whether it is
 * recording, interrupted or closed, and the interruptions open now. Derived from entries alone, so it is right after
 * any restart and needs no bookkeeping of its own. Pure: the caller reads the entries.
 */
import { parseLine } from '../evidence/entry.js';
import { ENTRY } from '../evidence/types.js';
import { endedEarly, eventTime, type AlertState, type OpenInterruption } from './alert-wire.js';

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * `rows`: the ledger lines of the state's entry types (alert-wire.ts STATE_ENTRY_TYPES) from the latest
 * session.opened on, in order (all of them when there was no session yet). A line that does not parse is skipped.
 */
export function foldAlertState(device: string, rows: { seq: number; hash: string; line: string }[], at: string): AlertState {
  type Session = NonNullable<AlertState['session']>;
  let session: Session | null = null as Session | null;
  let open: OpenInterruption[] = [];
  let through: AlertState['through'] = null;
  for (const r of rows) {
    const p = parseLine(r.line);
    if (!p.ok) continue;
    const e = p.entry;
    const b = e.body;
    through = { seq: r.seq, hash: r.hash };
    if (e.type === ENTRY.sessionOpened) {
      session = { sessionId: str(b.sessionId), state: 'recording', start: str(b.start) || e.time };
      open = [];
    } else if (!session || b.sessionId !== session.sessionId) {
      continue;
    } else if (e.type === ENTRY.interruptionStarted) {
      open.push({
        seq: r.seq,
        hash: r.hash,
        sessionId: session.sessionId,
        interruptionId: str(b.interruptionId),
        reason: str(b.reason),
        origin: str(b.origin),
        start: eventTime(e),
        ...(typeof b.text === 'string' ? { text: b.text } : {}),
      });
    } else if (e.type === ENTRY.interruptionEnded) {
      open = open.filter((i) => i.interruptionId !== b.interruptionId);
    } else if (e.type === ENTRY.sessionClosed) {
      session = { ...session, state: 'closed', end: eventTime(e), reason: str(b.reason), endedEarly: endedEarly(b) };
    }
  }
  if (session && session.state !== 'closed') session.state = open.length > 0 ? 'interrupted' : 'recording';
  return { v: 1, type: 'alert-state', device, at, through, session, open };
}
