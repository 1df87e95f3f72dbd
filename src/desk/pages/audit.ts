/**
 * The audit trail page (/audit, leaders and supervisors): the chain's check first (audit-check.ts: whole, signed, its
 * head to write down; or each problem by seq), what the witnesses answered when offered its head (audit-anchor.ts),
 * then the newest rows with their seq and hash.
 */
import { h, type Html } from '../../console/html.js';
import type { AuditRow } from '../audit.js';
import type { AuditCheck } from '../audit-check.js';
import { anchorProblem, type AnchorResult } from '../audit-anchor.js';
import { clock, frame, zoneHead, type View } from '../view.js';

function checkBox(v: View, c: AuditCheck): Html {
  const { t } = v;
  const head = c.head ? t('audit.head', { seq: c.head.seq, sha: c.head.sha256 }) : '';
  const unchained = c.unchained > 0 ? h`<p>${t('audit.unchained', { n: c.unchained })}</p>` : '';
  if (!c.ok) {
    return h`<div id="audit-check" class="late" data-ok="0"><p>${t('audit.broken', { n: c.problems.length })}</p>
      <ul>${c.problems.map((p) => h`<li data-seq="${p.seq}">#${p.seq}：${p.problem}</li>`)}</ul><p><code>${head}</code></p>${unchained}</div>`;
  }
  const signed = c.signed === c.entries ? t('audit.allSigned', { certs: c.signers.join(', ') }) : t('audit.someUnsigned', { n: c.entries - c.signed });
  return h`<div id="audit-check" class="ontime" data-ok="1"><p>${t('audit.whole', { n: c.entries })} ${signed}</p><p><code>${head}</code></p>${unchained}</div>`;
}

/** undefined: no auditAnchor; an empty list: the round failed (the desk's log says why). */
function anchorBox(v: View, results: AnchorResult[] | undefined): Html {
  const { t } = v;
  if (results === undefined) return h`<p id="audit-anchor" data-anchored="none">${t('audit.notAnchored')}</p>`;
  const problems = results.length === 0 ? [t('audit.anchorFailed')] : results.map(anchorProblem).filter((p): p is string => p !== undefined);
  const cosigned = results.filter((r) => r.outcome.kind === 'cosigned').map((r) => h`<li>${t('audit.anchored', { witness: r.witness, n: r.size })}</li>`);
  return h`<div id="audit-anchor" class="${problems.length > 0 ? 'late' : 'ontime'}" data-anchored="${problems.length > 0 ? '0' : '1'}"><ul>${cosigned}${problems.map((p) => h`<li>${p}</li>`)}</ul></div>`;
}

export function auditPage(v: View, check: AuditCheck, rows: AuditRow[], anchored?: AnchorResult[]): string {
  const { t } = v;
  const body = rows.map(
    (r) => h`<tr><td>${r.seq ?? '–'}</td><td>${clock(v, r.at)}</td><td>${r.name}</td><td>${r.action}</td><td>${r.ip}</td><td><code>${JSON.stringify(r.detail)}</code></td><td><code>${r.sha256 ? r.sha256.slice(0, 16) : '–'}</code>${r.signed ? ' ✓' : ''}</td></tr>`,
  );
  return frame(
    v,
    t('audit.title'),
    h`<p class="legend">${t('audit.note')}</p>${checkBox(v, check)}${anchorBox(v, anchored)}<table id="audit"><thead><tr><th>#</th><th>${t('audit.at')}（${zoneHead(v)}）</th><th>${t('audit.name')}</th><th>${t('audit.action')}</th><th>${t('audit.ip')}</th><th>${t('audit.detail')}</th><th>SHA-256</th></tr></thead><tbody>${body}</tbody></table>`,
  );
}
