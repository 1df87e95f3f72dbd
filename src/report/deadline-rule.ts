/**
 * Upload deadlines as the agency judges them (000 §24), never as a gateway states them: a gateway's `deadline` is its
 * own configuration (`uplink.deadlineHours`), and one configured beyond the rule would always look on time.
 * The rule: 24 h after the item ends; for a vehicle, whatever ended while it was away is due 24 h after its signed
 * return to base (an upload.deadline_extended entry with reason `returned-to-base`, which the gateway writes when its
 * home-base geofence is entered). A return to coverage elsewhere is not a return to base and moves nothing. Pure.
 */
import type { ReportReturn } from './device-sessions.js';
import type { UploadItem } from './receipts.js';

export const RULE_HOURS = 24;
const RULE_MS = RULE_HOURS * 3_600_000;

/** The reason upload.deadline_extended gives when the vehicle entered its home base. */
export const RETURNED_TO_BASE = 'returned-to-base';

/** The rule's deadline (ms) of an item that ended at `endMs`, given the device's signed returns. */
export function ruleDeadline(endMs: number, returns: readonly ReportReturn[]): number {
  let due = endMs + RULE_MS;
  for (const r of returns) {
    if (r.reason === RETURNED_TO_BASE && endMs >= r.from && endMs <= r.returned) due = Math.max(due, r.returned + RULE_MS);
  }
  return due;
}

/**
 * Upload items judged by the rule: `deadline` and `lateMs` become the rule's, the gateway's own deadline is kept as
 * `statedDeadline`. A segment is due by its end; an entries receipt by the time of the oldest entry it delivered
 * (the first one no earlier entries receipt covered). An item whose end this ledger does not give (a segment no
 * manifest names) keeps the stated deadline, marked `ruleUnknown`.
 */
export function judgeByRule(items: readonly UploadItem[], segmentEnds: ReadonlyMap<string, number>, entryTimes: readonly number[], returns: readonly ReportReturn[]): UploadItem[] {
  const covered = [...new Set(items.flatMap((i) => (i.throughSeq === undefined ? [] : [i.throughSeq])))].sort((a, b) => a - b);
  const firstOf = new Map(covered.map((t, n) => [t, n === 0 ? 0 : covered[n - 1]! + 1]));
  return items.map((i) => {
    const end = i.kind === 'segment' ? segmentEnds.get(i.item) : entryTimes[firstOf.get(i.throughSeq!)!];
    if (end === undefined) return { ...i, statedDeadline: i.deadline, ruleUnknown: true };
    const due = ruleDeadline(end, returns);
    return { ...i, statedDeadline: i.deadline, deadline: new Date(due).toISOString(), lateMs: Date.parse(i.storedAt) - due };
  });
}

/** Whether the gateway stated a deadline later than the rule's for this item: configured beyond the rule. */
export const statedBeyondRule = (i: UploadItem): boolean => i.statedDeadline !== undefined && !i.ruleUnknown && Date.parse(i.statedDeadline) > Date.parse(i.deadline);
