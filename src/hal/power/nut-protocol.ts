/**
 * The text of Network UPS Tools' network protocol (upsd, TCP 3493; NUT's docs/net-protocol.txt), pure: quoting
 * words for commands, splitting answer lines into words, and turning a UPS's variables (`LIST VAR`) into a reading.
 * Nothing here throws on what upsd or a stranger on its port may send: every refusal is a value naming what is wrong.
 */
import type { UpsReading } from './ups-monitor.js';

/** A word of a command: bare when it needs no quotes, else in double quotes with `"` and `\` escaped. */
export function quoteWord(w: string): string {
  return /^[A-Za-z0-9._@:/+-]+$/.test(w) ? w : `"${w.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * An answer line as words: runs of non-blanks, or double-quoted strings with backslash escapes. Null when a quote
 * is not closed or a control character appears (not upsd's protocol).
 */
export function splitWords(line: string): string[] | null {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    let w = '';
    if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        const d = line[i++]!;
        if (d === '"') break;
        if (d === '\\') {
          if (i >= line.length) return null;
          w += line[i++]!;
        } else w += d;
      }
    } else {
      while (i < line.length && line[i] !== ' ' && line[i] !== '\t') w += line[i++]!;
    }
    if ([...w].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) return null;
    words.push(w);
  }
  return words;
}

/** upsd's ERR codes, with what a technician should do about the ones a monitor meets. */
const ERR_HELP: Record<string, { en: string; zh: string }> = {
  'UNKNOWN-UPS': { en: 'upsd has no UPS of that name: set power.nut.name to one that `upsc -l HOST:PORT` lists', zh: 'upsd 中没有该名称的 UPS：请将 power.nut.name 设为 `upsc -l 主机:端口` 列出的名称' },
  'DRIVER-NOT-CONNECTED': { en: "upsd cannot reach the UPS's driver: check the driver (upsdrvctl start) and the UPS's cable", zh: 'upsd 无法连接 UPS 驱动：请检查驱动（upsdrvctl start）及 UPS 线缆' },
  'DATA-STALE': { en: "the UPS's driver has no current data: check the UPS's cable and the driver's log", zh: 'UPS 驱动没有最新数据：请检查 UPS 线缆及驱动日志' },
  'ACCESS-DENIED': { en: 'upsd refused: check power.nut.user and password against upsd.users (the user needs "upsmon secondary")', zh: 'upsd 拒绝访问：请核对 power.nut.user 和 password 与 upsd.users（该用户需有 "upsmon secondary"）' },
  'INVALID-PASSWORD': { en: 'upsd refused the password: check power.nut.password against upsd.users', zh: 'upsd 拒绝该密码：请核对 power.nut.password 与 upsd.users' },
  'USERNAME-REQUIRED': { en: 'upsd wants a user for this: set power.nut.user and password', zh: 'upsd 需要用户名：请设置 power.nut.user 和 password' },
  'PASSWORD-REQUIRED': { en: 'upsd wants a password for this: set power.nut.password', zh: 'upsd 需要密码：请设置 power.nut.password' },
};

export function errHelp(code: string): { en: string; zh: string } {
  return ERR_HELP[code] ?? { en: `upsd answered ERR ${code}`, zh: `upsd 返回错误 ${code}` };
}

/** What one `LIST VAR` answer says, or why it is not a reading. */
export type VarsReading = { ok: true; reading: UpsReading; notes: string[] } | { ok: false; reason: string };

/**
 * The reading in a UPS's variables: `ups.status` (OL on line, OB on battery, LB low battery, FSD forced shutdown,
 * others ignored), `battery.charge` (percent) and `battery.runtime` (seconds, optional). A status that is neither
 * OL nor OB (WAIT while the driver starts, OFF) or a missing or nonsensical charge is no reading; a nonsensical
 * runtime is dropped with a note.
 */
export function readingFromVars(vars: ReadonlyMap<string, string>): VarsReading {
  const status = vars.get('ups.status');
  if (status === undefined) return { ok: false, reason: 'the UPS reports no ups.status' };
  const flags = new Set(status.split(/\s+/).filter(Boolean));
  const onBattery = flags.has('OB');
  if (!onBattery && !flags.has('OL')) return { ok: false, reason: `ups.status ${JSON.stringify(status)} says neither OL (on line) nor OB (on battery)` };
  const charge = vars.get('battery.charge');
  if (charge === undefined) return { ok: false, reason: 'the UPS reports no battery.charge (recgw needs the charge; check the driver with upsc)' };
  const percent = decimal(charge);
  if (percent === null || percent > 100) return { ok: false, reason: `battery.charge ${JSON.stringify(charge.slice(0, 40))} is not a percentage` };
  const notes: string[] = [];
  let minutesLeft: number | null = null;
  const runtime = vars.get('battery.runtime');
  if (runtime !== undefined) {
    const s = decimal(runtime);
    if (s === null) notes.push(`ignoring battery.runtime ${JSON.stringify(runtime.slice(0, 40))}: not a number of seconds`);
    else minutesLeft = s / 60;
  }
  return {
    ok: true,
    reading: { percent, onMains: !onBattery, minutesLeft, status, lowBattery: flags.has('LB'), forcedShutdown: flags.has('FSD') },
    notes,
  };
}

function decimal(s: string): number | null {
  if (!/^[0-9]{1,9}(\.[0-9]{1,6})?$/.test(s.trim())) return null;
  return Number(s.trim());
}
