/** The search page: the filter form, one page of sessions (newest first), and the next-page link (keyset paging). */
import { h, type Html } from '../../console/html.js';
import { MATTERS, matterByCode } from '../../evidence/vocabulary.js';
import type { Page, SessionFilter, SessionRow } from '../../index/search.js';
import { clock, frame, span, zoneHead, type View } from '../view.js';

/** The form's fields as typed (strings): the index's filter, and the page position. */
export type SearchForm = { [K in keyof SessionFilter]?: string } & { after?: string };

export const FORM_KEYS = ['device', 'officer', 'matter', 'caseRef', 'party', 'place', 'from', 'to'] as const;

export const sessionHref = (deviceId: string, sessionId: string): string => `/sessions/${encodeURIComponent(deviceId)}/${encodeURIComponent(sessionId)}`;

/** A matter as people read it: its name in the page's language, or the code when it is outside the vocabulary. */
export const matterText = (v: View, code: string): string => {
  const m = matterByCode(code);
  return m ? (v.lang === 'en' ? m.en : m.zh) : code;
};

function form(v: View, f: SearchForm): Html {
  const { t } = v;
  const text = (name: keyof SearchForm, label: string, type = 'text'): Html =>
    h`<label>${label}<input id="f-${name}" name="${name}" type="${type}" value="${f[name] ?? ''}" maxlength="200"></label>`;
  const matters = MATTERS.map((m) => h`<option value="${m.code}"${f.matter === m.code ? h` selected` : ''}>${v.lang === 'en' ? m.en : m.zh}</option>`);
  return h`<form class="search" method="get" action="/sessions">
    ${text('device', t('search.device'))}${text('officer', t('search.officer'))}
    <label>${t('search.matter')}<select id="f-matter" name="matter"><option value="">${t('word.any')}</option>${matters}</select></label>
    ${text('caseRef', t('search.caseRef'))}${text('party', t('search.party'))}${text('place', t('search.place'))}
    ${text('from', t('search.from'), 'date')}${text('to', t('search.to'), 'date')}
    <button type="submit">${t('search.submit')}</button></form>`;
}

function query(f: SearchForm, after?: string): string {
  const q = new URLSearchParams();
  for (const k of FORM_KEYS) if (f[k]) q.set(k, f[k]);
  if (after) q.set('after', after);
  return `/sessions?${q.toString()}`;
}

export function searchPage(v: View, f: SearchForm, page: Page<SessionRow>, error?: string): string {
  const { t } = v;
  const rows = page.rows.map(
    (s) => h`<tr><td>${clock(v, s.start)}</td><td>${s.deviceId}</td><td>${matterText(v, s.matter)}</td><td>${s.caseRef || '–'}</td><td>${s.party ?? '–'}</td>
      <td>${s.place ?? '–'}</td><td>${s.officers.map((o) => `${o.name}（${o.badge}）`).join('、')}</td><td>${span(v, s.recordedSeconds * 1000)}</td>
      <td>${s.interruptions}</td><td><a class="open" href="${sessionHref(s.deviceId, s.sessionId)}">${t('search.open')}</a></td></tr>`,
  );
  const table =
    page.rows.length === 0
      ? h`<p id="none">${t('search.none')}</p>`
      : h`<table id="results"><thead><tr><th>${t('search.start', { zone: zoneHead(v) })}</th><th>${t('search.device')}</th><th>${t('search.matter')}</th>
          <th>${t('search.caseRef')}</th><th>${t('search.party')}</th><th>${t('search.place')}</th><th>${t('search.officers')}</th><th>${t('search.recorded')}</th>
          <th>${t('search.interruptions')}</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
  const pager = h`<nav class="pager">${f.after ? h`<a id="first" href="${query(f)}">${t('search.first')}</a>` : ''}${
    page.next ? h`<a id="next" href="${query(f, page.next)}">${t('search.next')}</a>` : ''
  }</nav>`;
  return frame(v, t('search.title'), h`${form(v, f)}${table}${pager}`, error ? { kind: 'error', text: error } : undefined);
}
