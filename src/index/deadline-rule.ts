/**
 * Upload deadlines as the agency judges them (000 §24), never as a gateway states them: a gateway's `deadline` is its
 * own configuration (`uplink.deadlineHours`), and one configured beyond the rule would always look on time.
 * The rule: 24 h after the item ends; for a vehicle, whatever ended while it was away is due 24 h after its signed
 * return to base (an upload.deadline_extended entry with reason `returned-to-base`, which the gateway writes when its
 * home-base geofence is entered). A return to coverage elsewhere is not a return to base and moves nothing. Pure.
 */
import type { ReportReturn } from '../report/device-sessions.js';

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
