/** Dates picked on a form (YYYY-MM-DD, days in the desk's zone) as the index's start-time range: [from's start, the day after to). */
import { dayStart } from '../util/local-time.js';
import { Refusal } from './guard.js';

export function periodOf(from: string | undefined, to: string | undefined, zone: string): { from?: number; to?: number } {
  const out: { from?: number; to?: number } = {};
  const day = (text: string): number => {
    const at = dayStart(text, zone);
    if (at === undefined) throw new Refusal(400, 'error.date');
    return at;
  };
  if (from?.trim()) out.from = day(from.trim());
  if (to?.trim()) {
    const d = new Date(`${to.trim()}T00:00:00Z`);
    day(to.trim());
    d.setUTCDate(d.getUTCDate() + 1);
    out.to = day(d.toISOString().slice(0, 10));
  }
  return out;
}
