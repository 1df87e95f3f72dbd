/**
 * A session's page: its facts, one timeline per source, segments with their receipts judged by the rule (and the
 * deadline the gateway stated, flagged when beyond the rule), interruptions (reason in Chinese, declared or detected,
 * spoken explanation heard or not), written statements with who confirmed them, and the verifier's runs with the
 * "verify this session" button for accounts that may act.
 */
import { h, type Html } from '../../console/html.js';
import type { SessionDetail } from '../../index/search.js';
import type { VerifyRun } from '../verify-runs.js';
import type { RetentionStatus } from '../retention.js';
import { mayWrite } from '../roles.js';
import { clock, csrfField, frame, span, when, zoneHead, type View } from '../view.js';
import { matterText, sessionHref } from './search.js';
import { timelines } from './timeline.js';
import { trackSection } from './track.js';

/** Receipt facts the index keeps beside the segment: the deadline the gateway stated, by segment name. */
export type Stated = Map<string, number>;

function verdict(v: View, deadline: number, stored: number | null): Html {
  if (stored !== null) return stored <= deadline ? h`<span class="ontime">${v.t('verdict.onTime')}</span>` : h`<span class="late">${v.t('verdict.late', { span: span(v, stored - deadline) })}</span>`;
  return v.now > deadline ? h`<span class="missing">${v.t('verdict.missing', { span: span(v, v.now - deadline) })}</span>` : h`${v.t('verdict.pending')}`;
}

function facts(v: View, d: SessionDetail): Html {
  const { t } = v;
  const s = d.session;
  const row = (k: string, val: string | Html): Html => h`<dt>${k}</dt><dd>${val}</dd>`;
  return h`<dl class="facts" id="facts">${row(t('session.device'), s.deviceId)}${row(t('session.id'), s.sessionId)}${row(t('session.matter'), matterText(v, s.matter))}
    ${row(t('session.caseRef'), s.caseRef || '–')}${row(t('session.party'), s.party ?? '–')}${row(t('session.place'), s.place ?? '–')}
    ${row(t('session.officers'), s.officers.map((o) => `${o.name}（${o.badge}）`).join('、'))}${row(t('session.start'), when(v, s.start))}
    ${row(t('session.end'), s.end === null ? t('session.open') : when(v, s.end))}${row(t('session.closedBy'), s.closedBy ? t(`closed.${s.closedBy}`) : '–')}
    ${row(t('session.recorded'), span(v, s.recordedSeconds * 1000))}${row(t('session.coverage'), t('session.coverageText', { gaps: s.gaps, unexplained: s.unexplainedGaps }))}</dl>`;
}

function segmentTable(v: View, d: SessionDetail, stated: Stated): Html {
  const { t } = v;
  const rows = d.segments.map((g) => {
    const said = stated.get(g.name);
    return h`<tr><td>${g.source}</td><td>${g.seq}</td><td>${clock(v, g.start)}</td><td>${clock(v, g.end)}</td><td>${span(v, g.end - g.start)}</td>
      <td>${clock(v, g.deadline)}</td><td>${said === undefined ? '–' : h`${clock(v, said)}${said > g.deadline ? h`<span class="late">${t('col.beyond')}</span>` : ''}`}</td>
      <td>${clock(v, g.stored)}</td><td>${verdict(v, g.deadline, g.stored)}</td></tr>`;
  });
  return h`<table id="segments"><thead><tr><th>${t('col.source')}</th><th>${t('col.seq')}</th><th>${t('col.from', { zone: zoneHead(v) })}</th><th>${t('col.to')}</th>
    <th>${t('col.length')}</th><th>${t('col.deadline')}</th><th>${t('col.stated')}</th><th>${t('col.stored')}</th><th>${t('col.verdict')}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function interruptionTable(v: View, d: SessionDetail): Html {
  const { t } = v;
  if (d.interruptions.length === 0) return h`<p>${t('session.noInterruptions')}</p>`;
  const rows = d.interruptions.map(
    (i) => h`<tr><td>${i.zh ?? i.reason}${i.zh ? h` <small>${i.reason}</small>` : ''}</td><td>${t(`origin.${i.origin}`)}${i.cause ? `：${i.cause}` : ''}${i.technical ? `（${i.technical}）` : ''}</td>
      <td>${clock(v, i.start)}</td><td>${i.end === null ? t('intr.open') : clock(v, i.end)}</td><td>${i.sources ? i.sources.join('、') : t('all.sources')}</td>
      <td class="${i.spokenExplanation ? 'ontime' : 'late'}">${i.spokenExplanation ? t('spoken.heard') : t('spoken.none')}</td><td>${i.text ?? '–'}</td><td>${i.endedBy ?? '–'}</td></tr>`,
  );
  return h`<table id="interruptions"><thead><tr><th>${t('col.reason')}</th><th>${t('col.origin')}</th><th>${t('col.from', { zone: zoneHead(v) })}</th><th>${t('col.to')}</th>
    <th>${t('col.sources')}</th><th>${t('col.spoken')}</th><th>${t('col.text')}</th><th>${t('col.endedBy')}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function statementTable(v: View, d: SessionDetail): Html {
  const { t } = v;
  if (d.statements.length === 0) return h`<p id="no-statements">${t('session.noStatements')}</p>`;
  const via = (c: string): string => (c === 'panel' || c === 'console' || c === 'cli' ? t(`via.${c}`) : c);
  const rows = d.statements.map(
    (s) => h`<tr><td>${when(v, s.made)}</td><td>${s.text}</td><td>${s.officers.map((o) => `${o.name}（${o.badge}）`).join('、')}</td>
      <td>${s.confirmations.map((c) => h`<div>${c.name}（${c.badge}）${via(c.via)} ${when(v, Date.parse(c.at))}</div>`)}</td></tr>`,
  );
  return h`<table id="statements"><thead><tr><th>${t('col.made')}</th><th>${t('col.text')}</th><th>${t('col.officers')}</th><th>${t('col.confirmations')}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function verification(v: View, d: SessionDetail, runs: VerifyRun[]): Html {
  const { t } = v;
  const action = v.user && mayWrite(v.user.role)
    ? h`<form method="post" action="${sessionHref(d.session.deviceId, d.session.sessionId)}/verify">${csrfField(v)}<button id="verify" type="submit">${t('verify.run')}</button></form>`
    : h`<p>${t('verify.readOnly')}</p>`;
  const latest = runs[0];
  const result = !latest
    ? h`<p id="verify-result">${t('verify.none')}</p>`
    : h`<div id="verify-result" class="${latest.ok ? 'ontime' : 'late'}"><p>${when(v, latest.at)} · ${latest.by} · ${latest.ok ? t('verify.ok') : t('verify.failed', { n: latest.findingCount })}</p>
        ${latest.session
          ? h`<p>${t('verify.session', { segments: latest.session.segments, gaps: latest.session.gaps.length, unexplained: latest.session.gaps.filter((g) => !g.explained).length })}</p>`
          : h`<p>${t('verify.noSession')}</p>`}
        ${latest.findings.length > 0 ? h`<ul>${latest.findings.map((f) => h`<li><code>${f.kind}</code> ${f.detail}</li>`)}</ul>` : ''}</div>`;
  const history = runs.map((r) => h`<tr><td>${when(v, r.at)}</td><td>${r.by}</td><td>${r.ok ? t('verify.ok') : t('verify.failed', { n: r.findingCount })}</td><td>${span(v, r.tookMs)}</td></tr>`);
  return h`<p class="legend">${t('verify.note')}</p>${action}${result}${runs.length > 1 ? h`<table><thead><tr><th>${t('verify.at')}</th><th>${t('verify.by')}</th><th>${t('verify.result')}</th><th>${t('verify.took')}</th></tr></thead><tbody>${history}</tbody></table>` : ''}`;
}

/** Its retention class (docs/desk.md §10): evidence with its case, or kept until a day, or deleted on one. */
function retentionLine(v: View, r: RetentionStatus): Html {
  const { t } = v;
  const text =
    r.deletedMs !== undefined ? t('retention.deletedOn', { at: when(v, r.deletedMs) })
    : r.cls === 'evidence' ? t('retention.classEvidence', { case: r.caseRef ?? '' })
    : r.keptUntilMs !== undefined ? t('retention.classKept', { until: when(v, r.keptUntilMs) })
    : t('retention.classOpen');
  return h`<p id="retention" data-class="${r.cls}"${r.deletedMs !== undefined ? h` data-deleted="1"` : ''}>${t('retention.class')}：${text} <a href="/retention">${t('nav.retention')}</a></p>`;
}

export function sessionPage(v: View, d: SessionDetail, stated: Stated, runs: VerifyRun[], kept: RetentionStatus): string {
  const { t } = v;
  return frame(
    v,
    `${t('session.title')} ${d.session.sessionId}`,
    h`${facts(v, d)}${retentionLine(v, kept)}<p><a id="ask-access" href="/access?session=${encodeURIComponent(`${d.session.deviceId}/${d.session.sessionId}`)}">${t('access.ask')}</a></p><h2>${t('verify.title')}</h2>${verification(v, d, runs)}<h2>${t('session.timelines')}</h2>${timelines(v, d, v.now)}
      <h2>${t('session.segments')}</h2>${segmentTable(v, d, stated)}<h2>${t('session.interruptions')}</h2>${interruptionTable(v, d)}
      <h2>${t('session.statements')}</h2>${statementTable(v, d)}<h2>${t('track.title')}</h2>${trackSection(v, d)}`,
  );
}
