/**
 * Times for people: officers write Beijing time in their 笔录, so every time a person reads is shown in the
 * installation's zone with the zone named; machines (JSON, the ledger) keep UTC. Formatting uses Intl (no
 * dependency, cheap enough for the gateway); parsing a time a person wrote uses luxon, loaded only where needed.
 */
export const DEFAULT_ZONE = 'Asia/Shanghai';

/** What people call a zone, in Chinese and English; other zones go by their IANA name. */
const ZONE_NAMES: Record<string, [string, string]> = {
  'Asia/Shanghai': ['北京时间', 'Beijing time'],
  PRC: ['北京时间', 'Beijing time'],
  'Asia/Chongqing': ['北京时间', 'Beijing time'],
  'Asia/Harbin': ['北京时间', 'Beijing time'],
  'Asia/Urumqi': ['新疆时间', 'Xinjiang time'],
};

/** Which language a zone's name is given in: Chinese unless asked otherwise. */
export type ZoneLang = 'zh' | 'en';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws a RangeError naming the zone when Intl does not know it (callers check zones from config up front). */
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Whether Intl knows the zone (an IANA name such as Asia/Shanghai). */
export function isKnownZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** "+08:00" for the zone at that instant ("+00:00" for UTC). */
export function zoneOffset(ms: number, zone: string): string {
  const name = formatter(zone).formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  return name === 'GMT' ? '+00:00' : name.slice(3);
}

/** The zone's name: "北京时间" ("Beijing time"), or its IANA name when it has no common one. */
export function zoneName(zone: string, lang: ZoneLang = 'zh'): string {
  return ZONE_NAMES[zone]?.[lang === 'en' ? 1 : 0] ?? zone;
}

/** The zone as a reader sees it after a time: "北京时间 UTC+08:00", "Europe/Berlin UTC+01:00". */
export function zoneLabel(ms: number, zone: string, lang: ZoneLang = 'zh'): string {
  return `${zoneName(zone, lang)} UTC${zoneOffset(ms, zone)}`;
}

/** "2026-12-07 10:05:03" in the zone, without the zone (for tables whose heading names it). */
export function localClock(at: number | string | Date, zone = DEFAULT_ZONE): string {
  const ms = toMs(at);
  if (!Number.isFinite(ms)) return String(at);
  const p = Object.fromEntries(formatter(zone).formatToParts(ms).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** "2026-12-07 10:05:03 (北京时间 UTC+08:00)": a time for people, the zone named. Unparseable input is shown as is. */
export function localTime(at: number | string | Date, zone = DEFAULT_ZONE, lang: ZoneLang = 'zh'): string {
  const ms = toMs(at);
  if (!Number.isFinite(ms)) return String(at);
  return `${localClock(ms, zone)} (${zoneLabel(ms, zone, lang)})`;
}

function toMs(at: number | string | Date): number {
  return typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : at.getTime();
}

/** The instant a calendar day (YYYY-MM-DD, as a person picks it) begins in the zone; undefined for anything else. */
export function dayStart(date: string, zone = DEFAULT_ZONE): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(utc).toISOString().slice(0, 10) !== date) return undefined;
  const minutes = (ms: number): number => {
    const [, sign, h, mm] = /^([+-])(\d{2}):(\d{2})$/.exec(zoneOffset(ms, zone))!;
    return (sign === '-' ? -1 : 1) * (Number(h) * 60 + Number(mm));
  };
  // The offset at the guess, then at the result (a day that begins just after a change of offset).
  const first = utc - minutes(utc) * 60_000;
  return utc - minutes(first) * 60_000;
}
