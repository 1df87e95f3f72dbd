/** The report's alerts section for people: per device, each alert with its session, times in the zone, and its delay. */
import { localClock, zoneLabel } from '../util/local-time.js';
import { alertText } from '../uplink/alert-words.js';
import { hmm, table } from './text.js';
import type { AlertItem, DeviceSummary, LineProblem } from './types.js';

/** Seconds under a minute as such; longer as h:mm, rounded up like lateness. */
export const delayText = (s: number): string => (Math.abs(s) < 60 ? `${s.toFixed(1)} s` : `${hmm(s, 'up')} (h:mm)`);

const row = (deviceId: string, a: AlertItem, zone: string): string[] => [
  deviceId,
  a.sessionId ?? '-',
  localClock(a.eventAt, zone),
  localClock(a.receivedAt, zone),
  delayText(a.delaySeconds) + (a.late ? ' 迟发 (sent late)' : ''),
  alertText(a.kind, a.body) + (a.kind === 'interruption-ended' && a.reason ? ` [${a.zh ?? a.reason}]` : ''),
];

const problems = (deviceId: string, label: string, list: LineProblem[]): string[] =>
  list.map((p) => `  ${deviceId}: alerts.jsonl ${label} line ${p.line}: ${p.problem}`);

export function alertsSection(devices: DeviceSummary[], zone: string): string[] {
  const all = devices.flatMap((d) => d.alerts.items.map((a) => ({ d, a })));
  const out: string[] = [];
  if (all.length === 0) out.push('即时告警 (alerts received as they happened): 无 (none)');
  else {
    const at = Date.parse(all[0]!.a.eventAt);
    out.push(
      `即时告警 (alerts received as they happened), 时间为${zoneLabel(at, zone)} (times in ${zoneLabel(at, zone, 'en')})`,
      ...table([
        ['设备', '场次', '发生', '到达', '延迟', '事件'],
        ['device', 'session', 'happened', 'arrived', 'delay', 'event'],
        ...all.map(({ d, a }) => row(d.deviceId, a, zone)),
      ]),
    );
  }
  out.push(...devices.flatMap((d) => [...problems(d.deviceId, '格式错误 (malformed)', d.alerts.malformed), ...problems(d.deviceId, '无效 (invalid)', d.alerts.invalid)]));
  return [...out, ''];
}
