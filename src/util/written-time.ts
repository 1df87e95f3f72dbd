/**
 * A time as an officer writes it in a 笔录 ("2026年12月7日10时05分", "2026-12-07 10:05:30"), read in the
 * installation's zone. luxon does the zone arithmetic (daylight saving elsewhere, invalid dates); this file only
 * recognises the ways of writing. The precision is what was written: a time to the minute stands for that minute.
 */
import { DateTime } from 'luxon';

export interface WrittenTime {
  /** The start of the written minute (or second), UTC milliseconds. */
  ms: number;
  /** 60,000 when written to the minute, 1,000 to the second. */
  precisionMs: number;
}

const LOCAL = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*[T\s]?\s*(\d{1,2})\s*[:：时点]\s*(\d{1,2})\s*分?\s*(?:[:：]?\s*(\d{1,2})\s*秒?)?$/;
const WITH_OFFSET = /(?:[zZ]|[+-]\d{2}:?\d{2})$/;

/** Reads one written time; the error says what was expected. */
export function parseWrittenTime(text: string, zone: string): WrittenTime {
  const t = text.trim();
  if (WITH_OFFSET.test(t)) {
    const d = DateTime.fromISO(t, { setZone: true });
    if (!d.isValid) throw new Error(`"${text}" is not a time: ${d.invalidExplanation ?? d.invalidReason}`);
    return { ms: d.toMillis(), precisionMs: /T\d{2}:\d{2}:\d{2}/.test(t) ? 1000 : 60_000 };
  }
  const m = LOCAL.exec(t);
  if (!m) {
    throw new Error(`"${text}" is not a time as written in a record: write it as 2026-12-07 10:05, 2026-12-07 10:05:30 or 2026年12月7日10时05分`);
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x)));
  const d = DateTime.fromObject({ year, month, day, hour, minute, second: second ?? 0 }, { zone });
  if (!d.isValid) throw new Error(`"${text}" is not a time in ${zone}: ${d.invalidExplanation ?? d.invalidReason}`);
  // luxon moves a wall time that a daylight-saving jump skips; such a time was never on a clock there.
  if (d.hour !== hour || d.minute !== minute) throw new Error(`"${text}" never happened in ${zone} (the clocks jumped over it)`);
  return { ms: d.toMillis(), precisionMs: second === undefined ? 60_000 : 1000 };
}
