/**
 * The report as plain text for the agency's evidence officer: Chinese labels with English in brackets,
 * durations as h:mm, times in the installation's zone with the zone named (JSON keeps UTC, as the ledger does).
 */
import { DEFAULT_ZONE, localTime } from '../util/local-time.js';
import { hmm, table } from './text.js';
import { alertsSection } from './alerts-text.js';
import type { DeviceSummary, LineProblem, ReceiptsSummary, StoreReport, Totals, WorstLate } from './types.js';

/** Two header rows (Chinese over English) for the figures every table shares. */
const FIGURE_HEADS = [
  ['场次', '未结束', '录制时长', '中断', '终止', '缺情况说明', '恢复未口述', '按时上传', '逾期', '最长逾期'],
  ['sessions', 'unclosed', 'recorded', 'interruptions', 'terminated', 'no statement', 'unspoken', 'on time', 'late', 'worst late'],
];

function figures(t: Totals): string[] {
  const mic = t.recorded.microphoneSessions;
  return [
    String(t.sessions),
    String(t.unclosed),
    hmm(t.recorded.seconds) + (mic > 0 ? ` (${mic} mic)` : ''),
    String(t.interruptions.total),
    String(t.terminated.sessions),
    String(t.terminated.statementMissing),
    // Sessions with a resume nobody was heard explaining, still without a statement (of those with such a resume).
    `${t.unexplained.statementMissing}/${t.unexplained.sessions}`,
    String(t.uploads.onTime),
    String(t.uploads.late),
    t.uploads.worst ? hmm(t.uploads.worst.lateSeconds, 'up') : '-',
  ];
}

const reasons = (t: Totals): string => t.interruptions.byReason.map((r) => `${r.zh === null ? r.reason : `${r.zh} [${r.reason}]`} ${r.count}`).join(', ');

const clockLine = (t: Totals): string =>
  `未同步 (not synchronised) ${t.clock.unsynchronisedSegments}, 假定同步 (assumed, time.assumeSynchronised) ${t.clock.assumedSegments}, ` +
  `涉及场次 (sessions) ${t.clock.sessions}`;

const worst = (w: WorstLate, zone: string): string =>
  `${w.deviceId} ${w.kind === 'segment' ? `segment ${w.item}` : w.item}, 期限 (deadline) ${localTime(w.deadline, zone)}, ` +
  `入库 (stored) ${localTime(w.storedAt, zone)}, 逾期 (late) ${hmm(w.lateSeconds, 'up')}`;

/** One section: title, table, then the details that do not fit a cell. */
function section(
  zone: string,
  title: string,
  heads: [string, string][],
  rows: { cells: string[]; label: string; t: Totals }[],
  withTotal?: Totals,
): string[] {
  const body = rows.map((r) => [...r.cells, ...figures(r.t)]);
  if (withTotal) body.push([...heads.map((_, i) => (i === 0 ? '合计 (total)' : '')), ...figures(withTotal)]);
  const out = [title, ...table([[...heads.map((h) => h[0]), ...FIGURE_HEADS[0]!], [...heads.map((h) => h[1]), ...FIGURE_HEADS[1]!], ...body])];
  const withReasons = rows.filter((r) => r.t.interruptions.total > 0);
  if (withReasons.length > 0) out.push('  中断原因 (interruptions by reason):', ...withReasons.map((r) => `    ${r.label}: ${reasons(r.t)}`));
  const untimed = rows.filter((r) => r.t.clock.unsynchronisedSegments + r.t.clock.assumedSegments > 0);
  if (untimed.length > 0) out.push('  时钟未经确认同步的片段 (segments timed by a clock not confirmed synchronised):', ...untimed.map((r) => `    ${r.label}: ${clockLine(r.t)}`));
  const late = rows.filter((r) => r.t.uploads.worst);
  if (late.length > 0) out.push('  最长逾期项 (most overdue item):', ...late.map((r) => `    ${r.label}: ${worst(r.t.uploads.worst!, zone)}`));
  return [...out, ''];
}

/** Problems of one kind, one line per distinct problem, with the line numbers that have it (the first few). */
function problemLines(label: string, problems: LineProblem[]): string[] {
  const byText = new Map<string, number[]>();
  for (const p of problems) byText.set(p.problem, [...(byText.get(p.problem) ?? []), p.line]);
  return [...byText].map(([problem, lines]) => {
    const shown = lines.slice(0, 10).join(', ') + (lines.length > 10 ? `, ... (${lines.length} lines)` : '');
    return `    ${label} line${lines.length > 1 ? 's' : ''} ${shown}: ${problem}`;
  });
}

function receiptsLines(d: DeviceSummary): string[] {
  const r: ReceiptsSummary = d.receipts;
  if (!r.present) return [`  ${d.deviceId}: 无 receipts.jsonl (no receipts file)`];
  const dup = r.duplicates > 0 ? `, 其中 ${r.duplicates} 重复 (of which repeats)` : '';
  return [
    `  ${d.deviceId}: ${r.lines} 行 (lines), ${r.accepted} 计入 (counted)${dup}, ${r.malformed.length} 格式错误 (malformed), ${r.invalid.length} 无效 (invalid)`,
    ...problemLines('格式错误 (malformed)', r.malformed),
    ...problemLines('无效 (invalid)', r.invalid),
    ...(d.deadlines.beyondRule > 0
      ? [
          `    注意：该网关为 ${d.deadlines.beyondRule} 项自报的上传期限晚于规定的 24 小时，其配置超出规定；按规定期限计 (WARNING: the gateway stated deadlines later than the rule's 24 h for ${d.deadlines.beyondRule} items: it is configured beyond the rule; judged by the rule)`,
        ]
      : []),
    ...(d.deadlines.ruleUnknown > 0 ? [`    ${d.deadlines.ruleUnknown} 项无法按规定判断，按网关自报期限计 (items the rule could not judge, no manifest names them: judged by the stated deadline)`] : []),
  ];
}

export function formatStoreReport(r: StoreReport, zone = DEFAULT_ZONE): string {
  const out = [
    `执法记录汇总 (evidence store summary): ${r.store}`,
    '录制时长计摄像头画面时长，无摄像头的场次计麦克风时长 (recorded = camera time; microphone time for sessions without a camera)',
    r.receiptsChecked
      ? '回执已用 CA 证书核验，无效回执不计入 (receipts checked against the CA; invalid ones are not counted)'
      : '回执签名未核验，核验请加 --ca ca.pem (receipt signatures NOT checked: add --ca ca.pem)',
    '',
  ];
  out.push(
    ...section(
      zone,
      '按设备 (by device)',
      [['设备', 'device']],
      r.devices.map((d) => ({ cells: [d.deviceId], label: d.deviceId, t: d })),
      r.total,
    ),
  );
  out.push(
    ...section(
      zone,
      '按执法人员 (by officer)',
      [['姓名', 'name'], ['执法证号', 'badge']],
      r.officers.map((o) => {
        const name = [o.name, ...o.otherNames].join(' / ');
        return { cells: [name, o.badge], label: `${name} (${o.badge})`, t: o };
      }),
    ),
  );
  out.push(
    ...section(
      zone,
      '按执法事项 (by matter)',
      [['事项', 'matter'], ['代码', 'code']],
      r.matters.map((m) => ({ cells: [m.zh ?? m.matter, m.matter], label: m.zh ?? m.matter, t: m })),
    ),
  );
  if (r.units) {
    out.push(
      ...section(
        zone,
        '按单位 (by unit)',
        [['单位', 'unit'], ['设备', 'devices']],
        r.units.map((u) => {
          const name = u.unit ?? '未列入单位 (in no unit)';
          return { cells: [name, u.devices.join(', ')], label: name, t: u };
        }),
      ),
    );
  }
  out.push('回执 (receipts.jsonl)', ...r.devices.flatMap(receiptsLines), '');
  out.push(...alertsSection(r.devices, zone));
  out.push('本报告只作统计，不能代替 recgw verify 的完整性核验 (this summary does not replace `recgw verify`, which proves the store complete and unaltered).');
  return out.join('\n');
}
