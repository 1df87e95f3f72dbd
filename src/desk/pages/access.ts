/**
 * The viewing-request pages (/access, /access/:id; docs/desk.md §6): the requests with their state, the form to ask,
 * a request's facts, a leader's decision form, and under an approval the session's segments to decrypt or export.
 */
import { h, type Html } from '../../console/html.js';
import type { ViewRequest } from '../approvals.js';
import { clock, csrfField, frame, when, zoneHead, type View } from '../view.js';

export const requestHref = (id: string): string => `/access/${id}`;
export const segmentHref = (r: ViewRequest, device: string, segment: string, download = false): string =>
  `/access/${r.id}/segments/${encodeURIComponent(device)}/${encodeURIComponent(segment)}${download ? '?download=1' : ''}`;

export const playHref = (r: ViewRequest, device: string, session: string): string => `/access/${r.id}/play/${encodeURIComponent(device)}/${encodeURIComponent(session)}`;

/** pending, approved, refused, or expired (approved, its window over). */
export const stateOf = (r: ViewRequest, now: number): 'pending' | 'approved' | 'refused' | 'expired' =>
  r.state === 'approved' && r.validUntilMs !== null && now >= r.validUntilMs ? 'expired' : r.state;

const scopeText = (v: View, s: string | null): string => (s === 'export' ? v.t('scope.export') : s === 'view' ? v.t('scope.view') : '–');

function requestForm(v: View, prefill: string): Html {
  const { t } = v;
  return h`<h2>${t('access.new')}</h2><form id="request" class="search" method="post" action="/access">${csrfField(v)}
    <label>${t('access.sessions')}<textarea id="f-sessions" name="sessions" rows="3" maxlength="5000" required>${prefill}</textarea></label>
    <label>${t('access.reason')}<textarea id="f-reason" name="reason" rows="3" maxlength="500" required></textarea></label>
    <label>${t('access.scopeAsked')}<select id="f-scope" name="scope"><option value="view">${t('scope.view')}</option><option value="export">${t('scope.export')}</option></select></label>
    <button type="submit">${t('access.submit')}</button></form>`;
}

export function accessListPage(v: View, requests: ViewRequest[], o: { mayAsk: boolean; prefill: string }, message?: { kind: 'error' | 'info'; text: string }): string {
  const { t } = v;
  const rows = requests.map((r) => {
    const st = stateOf(r, v.now);
    return h`<tr data-id="${r.id}" data-state="${st}"><td>${clock(v, r.requestedMs)}</td><td>${r.requester}</td><td>${r.sessions.join(' ')}</td><td>${r.reason}</td><td>${scopeText(v, r.scopeAsked)}</td>
      <td class="state">${t(`state.${st}`)}</td><td>${r.decider ?? '–'}</td><td>${clock(v, r.validUntilMs)}</td><td><a class="open" href="${requestHref(r.id)}">${t('access.open')}</a></td></tr>`;
  });
  const table = requests.length
    ? h`<table id="requests"><thead><tr><th>${t('access.requested')}（${zoneHead(v)}）</th><th>${t('access.requester')}</th><th>${t('register.sessions')}</th><th>${t('access.reason')}</th><th>${t('access.scopeAsked')}</th><th>${t('access.state')}</th><th>${t('access.decider')}</th><th>${t('access.validUntil')}</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
    : h`<p id="requests-empty">${t('access.empty')}</p>`;
  return frame(v, t('access.title'), h`<p class="legend">${t('access.note')}</p>${o.mayAsk ? requestForm(v, o.prefill) : ''}${table}`, message);
}

export interface SegmentLine {
  device: string;
  session: string;
  name: string;
  source: string;
  startMs: number;
  endMs: number;
  size: number;
}

export function accessPage(
  v: View,
  r: ViewRequest,
  o: { mayDecide: boolean; segments: SegmentLine[] | undefined; canDecrypt: boolean },
  message?: { kind: 'error' | 'info'; text: string },
): string {
  const { t } = v;
  const st = stateOf(r, v.now);
  const facts = h`<dl id="request" class="facts" data-state="${st}">
    <dt>${t('access.requester')}</dt><dd id="r-requester">${r.requester}</dd>
    <dt>${t('access.requested')}</dt><dd>${when(v, r.requestedMs)}</dd>
    <dt>${t('register.sessions')}</dt><dd id="r-sessions">${r.sessions.join(' ')}</dd>
    <dt>${t('access.reason')}</dt><dd id="r-reason">${r.reason}</dd>
    <dt>${t('access.scopeAsked')}</dt><dd>${scopeText(v, r.scopeAsked)}</dd>
    <dt>${t('access.state')}</dt><dd id="r-state">${t(`state.${st}`)}</dd>
    ${r.decider ? h`<dt>${t('access.decider')}</dt><dd id="r-decider">${r.decider}（${when(v, r.decidedMs)}）</dd><dt>${t('access.decisionNote')}</dt><dd id="r-note">${r.decisionNote ?? ''}</dd>` : ''}
    ${r.state === 'approved' ? h`<dt>${t('access.scope')}</dt><dd id="r-scope">${scopeText(v, r.scope)}</dd><dt>${t('access.validUntil')}</dt><dd id="r-until">${when(v, r.validUntilMs)}</dd>` : ''}
  </dl>`;
  const decide =
    o.mayDecide && r.state === 'pending'
      ? h`<h2>${t('access.decide')}</h2><form id="decide" class="search" method="post" action="${requestHref(r.id)}/decide">${csrfField(v)}
      <label>${t('access.scope')}<select id="f-scope" name="scope"><option value="view"${r.scopeAsked === 'view' ? h` selected` : ''}>${t('scope.view')}</option><option value="export"${r.scopeAsked === 'export' ? h` selected` : ''}>${t('scope.export')}</option></select></label>
      <label>${t('access.hours')}<input id="f-hours" name="hours" type="number" min="1" max="720" value="24"></label>
      <label>${t('access.noteField')}<input id="f-note" name="note" maxlength="500"></label>
      <button id="approve" type="submit" name="decision" value="approve">${t('access.approve')}</button><button id="refuse" type="submit" name="decision" value="refuse">${t('access.refuse')}</button></form>`
      : '';
  const play = o.segments
    ? h`<h2>${t('play.title')}</h2><ul id="playback">${r.sessions.map((ref) => {
        const [device, session] = ref.split('/') as [string, string];
        return h`<li><a class="play" href="${playHref(r, device, session)}">${t('access.play')} ${ref}</a></li>`;
      })}</ul>`
    : '';
  const segs = o.segments
    ? h`<h2>${t('access.segments')}</h2>${o.canDecrypt ? '' : h`<p class="late">${t('access.noKey')}</p>`}<table id="segments"><thead><tr><th>${t('register.sessions')}</th><th>${t('access.segment')}</th><th>${t('col.source')}</th><th>${t('col.from', { zone: zoneHead(v) })}</th><th>${t('col.to')}</th><th></th></tr></thead><tbody>${o.segments.map(
        (s) => h`<tr data-segment="${s.name}"><td>${s.device}/${s.session}</td><td>${s.name}</td><td>${s.source}</td><td>${clock(v, s.startMs)}</td><td>${clock(v, s.endMs)}</td>
          <td><a class="decrypt" href="${segmentHref(r, s.device, s.name)}">${t('access.decrypt')}</a>${r.scope === 'export' ? h` <a class="export" href="${segmentHref(r, s.device, s.name, true)}">${t('access.download')}</a>` : ''}</td></tr>`,
      )}</tbody></table>`
    : '';
  return frame(v, `${t('access.one')} ${r.id.slice(0, 8)}`, h`${facts}${decide}${o.canDecrypt ? play : ''}${segs}`, message);
}
