/**
 * The retention pages (/retention, /retention/:id; docs/desk.md §10): the expiry list with the form to ask for the
 * deletion of sessions on it, the evidence marks in force, the requests with their state, the form for a request of
 * any kind, and a request's facts with a leader's decision form.
 */
import { h, type Html } from '../../console/html.js';
import type { ExpiredSession, RetentionRequest } from '../retention.js';
import { clock, csrfField, frame, when, zoneHead, type View } from '../view.js';

export const retentionHref = (id: string): string => `/retention/${id}`;

export interface Mark {
  ref: string;
  caseRef: string;
  markedMs: number;
}

function expiryList(v: View, list: ExpiredSession[], mayAsk: boolean): Html {
  const { t } = v;
  if (list.length === 0) return h`<h2>${t('retention.expired')}</h2><p id="expired-empty">${t('retention.expiredEmpty')}</p>`;
  const rows = list.map(
    (s) => h`<tr data-session="${s.device}/${s.session}">${mayAsk ? h`<td><input type="checkbox" name="pick" value="${s.device}/${s.session}"></td>` : ''}<td>${s.device}/${s.session}</td><td>${s.caseRef}</td><td>${clock(v, s.endMs)}</td><td>${clock(v, s.expiresMs)}</td></tr>`,
  );
  const table = h`<table id="expired"><thead><tr>${mayAsk ? h`<th></th>` : ''}<th>${t('register.sessions')}</th><th>${t('retention.case')}</th><th>${t('retention.ended')}（${zoneHead(v)}）</th><th>${t('retention.expires')}</th></tr></thead><tbody>${rows}</tbody></table>`;
  return mayAsk
    ? h`<h2>${t('retention.expired')}</h2><form id="propose" class="search" method="post" action="/retention">${csrfField(v)}<input type="hidden" name="kind" value="delete">${table}
      <label>${t('access.reason')}<textarea id="p-reason" name="reason" rows="2" maxlength="500" required></textarea></label><button type="submit">${t('retention.proposeDelete')}</button></form>`
    : h`<h2>${t('retention.expired')}</h2>${table}`;
}

function requestForm(v: View): Html {
  const { t } = v;
  return h`<h2>${t('retention.new')}</h2><form id="request" class="search" method="post" action="/retention">${csrfField(v)}
    <label>${t('retention.kind')}<select id="f-kind" name="kind"><option value="evidence">${t('retention.kind.evidence')}</option><option value="release">${t('retention.kind.release')}</option><option value="delete">${t('retention.kind.delete')}</option></select></label>
    <label>${t('access.sessions')}<textarea id="f-sessions" name="sessions" rows="3" maxlength="5000" required></textarea></label>
    <label>${t('retention.case')}<input id="f-case" name="caseRef" maxlength="200"></label>
    <label>${t('access.reason')}<textarea id="f-reason" name="reason" rows="2" maxlength="500" required></textarea></label>
    <button type="submit">${t('retention.submit')}</button></form>`;
}

const stateText = (v: View, r: RetentionRequest): string => (r.appliedMs !== null ? v.t('retention.applied') : v.t(`state.${r.state}`));

export function retentionListPage(
  v: View,
  o: { years: number | undefined; expired: ExpiredSession[]; requests: RetentionRequest[]; marks: Mark[]; mayAsk: boolean },
  message?: { kind: 'error' | 'info'; text: string },
): string {
  const { t } = v;
  const note = o.years === undefined ? h`<p class="late" id="retention-off">${t('retention.offNote')}</p>` : h`<p class="legend">${t('retention.note', { years: o.years })}</p>`;
  const reqs = o.requests.length
    ? h`<table id="requests"><thead><tr><th>${t('access.requested')}（${zoneHead(v)}）</th><th>${t('retention.kind')}</th><th>${t('access.requester')}</th><th>${t('register.sessions')}</th><th>${t('access.reason')}</th><th>${t('access.state')}</th><th>${t('access.decider')}</th><th></th></tr></thead><tbody>${o.requests.map(
        (r) => h`<tr data-id="${r.id}" data-state="${r.appliedMs !== null ? 'applied' : r.state}"><td>${clock(v, r.requestedMs)}</td><td>${t(`retention.kind.${r.kind}`)}</td><td>${r.requester}</td><td>${r.sessions.join(' ')}</td><td>${r.reason}</td><td class="state">${stateText(v, r)}</td><td>${r.decider ?? '–'}</td><td><a class="open" href="${retentionHref(r.id)}">${t('access.open')}</a></td></tr>`,
      )}</tbody></table>`
    : h`<p id="requests-empty">${t('retention.empty')}</p>`;
  const marks = o.marks.length
    ? h`<table id="marks"><thead><tr><th>${t('register.sessions')}</th><th>${t('retention.case')}</th><th>${t('access.decided')}</th></tr></thead><tbody>${o.marks.map((m) => h`<tr data-session="${m.ref}"><td>${m.ref}</td><td>${m.caseRef}</td><td>${clock(v, m.markedMs)}</td></tr>`)}</tbody></table>`
    : h`<p id="marks-empty">${t('retention.marksEmpty')}</p>`;
  return frame(
    v,
    t('retention.title'),
    h`${note}${o.years === undefined ? '' : expiryList(v, o.expired, o.mayAsk)}<h2>${t('retention.requests')}</h2>${reqs}<h2>${t('retention.marks')}</h2>${marks}${o.mayAsk ? requestForm(v) : ''}`,
    message,
  );
}

export function retentionPage(v: View, r: RetentionRequest, o: { mayDecide: boolean }, message?: { kind: 'error' | 'info'; text: string }): string {
  const { t } = v;
  const facts = h`<dl id="request" class="facts" data-state="${r.appliedMs !== null ? 'applied' : r.state}">
    <dt>${t('retention.kind')}</dt><dd id="r-kind">${t(`retention.kind.${r.kind}`)}</dd>
    <dt>${t('access.requester')}</dt><dd id="r-requester">${r.requester}</dd>
    <dt>${t('access.requested')}</dt><dd>${when(v, r.requestedMs)}</dd>
    <dt>${t('register.sessions')}</dt><dd id="r-sessions">${r.sessions.join(' ')}</dd>
    ${r.caseRef ? h`<dt>${t('retention.case')}</dt><dd id="r-case">${r.caseRef}</dd>` : ''}
    <dt>${t('access.reason')}</dt><dd id="r-reason">${r.reason}</dd>
    <dt>${t('access.state')}</dt><dd id="r-state">${stateText(v, r)}</dd>
    ${r.decider ? h`<dt>${t('access.decider')}</dt><dd id="r-decider">${r.decider}（${when(v, r.decidedMs)}）</dd><dt>${t('access.decisionNote')}</dt><dd id="r-note">${r.decisionNote ?? ''}</dd>` : ''}
    ${r.appliedMs !== null ? h`<dt>${t('retention.applied')}</dt><dd id="r-applied">${when(v, r.appliedMs)}</dd>` : ''}
  </dl>`;
  const decide =
    o.mayDecide && r.state === 'pending'
      ? h`<h2>${t('access.decide')}</h2><form id="decide" class="search" method="post" action="${retentionHref(r.id)}/decide">${csrfField(v)}
      <label>${t('access.noteField')}<input id="f-note" name="note" maxlength="500"></label>
      <button id="approve" type="submit" name="decision" value="approve">${t('access.approve')}</button><button id="refuse" type="submit" name="decision" value="refuse">${t('access.refuse')}</button></form>`
      : '';
  return frame(v, `${t(`retention.kind.${r.kind}`)} ${r.id.slice(0, 8)}`, h`${facts}${decide}`, message);
}
