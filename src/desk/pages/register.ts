/** The register page (/register, leaders and supervisors): every act of viewing under approval, newest first. */
import { h } from '../../console/html.js';
import { actName, whatText, type RegisterEntry } from '../register.js';
import { clock, frame, zoneHead, type View } from '../view.js';

export function registerPage(v: View, rows: RegisterEntry[]): string {
  const { t } = v;
  const body = rows.map(
    (r) => h`<tr data-act="${r.act}" data-request="${r.request}"><td>${r.seq ?? '–'}</td><td>${clock(v, r.at)}</td><td class="who">${r.who}</td><td class="act">${actName(t, r.act)}</td><td class="sessions">${r.sessions.join(' ')}</td>
      <td class="what">${whatText(t, v.zone, r)}</td><td class="why">${r.why}</td><td class="request"><code>${r.request.slice(0, 8)}</code></td><td class="approver">${r.approver}</td><td>${r.ip}</td></tr>`,
  );
  const table = rows.length
    ? h`<table id="register"><thead><tr><th>#</th><th>${t('audit.at')}（${zoneHead(v)}）</th><th>${t('register.who')}</th><th>${t('register.act')}</th><th>${t('register.sessions')}</th><th>${t('register.what')}</th><th>${t('register.why')}</th><th>${t('register.approval')}</th><th>${t('register.approver')}</th><th>${t('audit.ip')}</th></tr></thead><tbody>${body}</tbody></table>`
    : h`<p>${t('register.empty')}</p>`;
  return frame(v, t('register.title'), h`<p class="legend">${t('register.note')}</p><p><a id="register-csv" href="/register.csv">${t('register.csv')}</a></p>${table}`);
}
