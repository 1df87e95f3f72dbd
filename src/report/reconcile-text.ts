/** `recgw reconcile` for people: Chinese with English in brackets, times in the installation's zone. */
import { localClock, zoneLabel } from '../util/local-time.js';
import { table } from './text.js';
import type { ReconcileReport } from './reconcile.js';

const diff = (s: number): string => (s === 0 ? '0' : `${s > 0 ? '+' : ''}${s.toFixed(1)} s`);

export function formatReconcile(r: ReconcileReport, zone: string): string {
  const at = Date.parse(r.written.start.from);
  const span = (w: { from: string; to: string }): string => `${localClock(w.from, zone)} - ${localClock(Date.parse(w.to) - 1000, zone)}`;
  const rows = r.sources.map((s) => [
    s.source,
    localClock(s.recordedStart, zone),
    diff(s.startDifferenceSeconds),
    localClock(s.recordedEnd, zone),
    diff(s.endDifferenceSeconds),
    s.agrees ? '一致 (agrees)' : '不一致 (differs)',
  ]);
  const out = [
    `笔录核对 (paper record check): 设备 (device) ${r.deviceId}, 场次 (session) ${r.sessionId}`,
    `时间为${zoneLabel(at, zone)} (times in ${zoneLabel(at, zone)}); 容差 (tolerance) ${r.toleranceSeconds} s`,
    `笔录开始 (written start): ${span(r.written.start)}`,
    `笔录结束 (written end):   ${span(r.written.end)}`,
    '',
  ];
  if (rows.length === 0) out.push('该场次没有任何录像录音 (the session has no footage at all): 无法核对 (nothing to compare).');
  else {
    out.push(
      ...table([
        ['音视频源', '录制开始', '差', '录制结束', '差', '结论'],
        ['source', 'recorded start', 'off by', 'recorded end', 'off by', 'result'],
        ...rows,
      ]),
    );
  }
  out.push(
    '',
    r.agrees
      ? '结论 (result): 音视频起止时间与笔录一致 (the recordings start and end when the record says).'
      : '结论 (result): 音视频起止时间与笔录不一致，请核实并书面说明 (they do not agree: check the record and explain the difference in writing).',
  );
  return out.join('\n');
}
