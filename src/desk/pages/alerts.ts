/**
 * The live alerts page (/alerts): unacknowledged alerts first (highlighted), each with a form to acknowledge it with
 * an optional note; acknowledged ones with who and when. It loads itself again every REFRESH_S seconds (a meta
 * refresh: the CSP allows no inline script and the page needs none).
 */
import { h, type Html } from '../../console/html.js';
import { reasonByCode } from '../../evidence/vocabulary.js';
import type { DeskAlert } from '../alerts.js';
import { DESK_DICT, type DeskKey } from '../i18n.js';
import { mayWrite } from '../roles.js';
import { clock, csrfField, frame, span, when, zoneHead, type View } from '../view.js';
import { sessionHref } from './search.js';

export const REFRESH_S = 15;

/** An agency-log alarm's level in words; a level this desk does not know, as the gateway wrote it. */
function logLevel(v: View, level: string | null): string {
  const key = `logLevel.${level ?? ''}`;
  return Object.hasOwn(DESK_DICT, key) ? v.t(key as DeskKey) : (level ?? '');
}

function detail(v: View, a: DeskAlert): Html {
  const { t } = v;
  if (a.kind === 'deadline-near' || a.kind === 'deadline-missed') {
    const left = a.at - v.now;
    return h`${t('alerts.segments', { n: a.segments })}；${left > 0 ? t('verdict.pending') : t('verdict.missing', { span: span(v, left) })}（${when(v, a.at)}）`;
  }
  if (a.kind === 'gateway-offline') return h`${t(a.reason === 'offline' ? 'alerts.offlineSaid' : 'alerts.silent', { span: span(v, v.now - a.at) })}`;
  if (a.kind === 'log-alarm' && a.witness) return h`${t('alerts.witnessAlarm', { witness: a.witness, level: logLevel(v, a.reason), origin: a.origin ?? '', receiver: a.device })}`;
  if (a.kind === 'log-alarm') return h`${t('alerts.logAlarm', { level: logLevel(v, a.reason), origin: a.origin ?? '' })}`;
  const r = a.reason === null ? undefined : reasonByCode(a.reason);
  const reason = r ? (v.lang === 'en' ? r.en : r.zh) : (a.reason ?? '');
  const origin = a.origin === 'declared' || a.origin === 'detected' ? t(`origin.${a.origin}`) : '';
  return h`${reason}${origin ? h`（${origin}）` : ''}${a.late ? h` <small>${t('alerts.lateSent')}</small>` : ''}`;
}

function ackCell(v: View, a: DeskAlert): Html {
  const { t } = v;
  if (a.ack) return h`${t('alerts.ackedBy', { name: a.ack.name, time: when(v, a.ack.at) })}${a.ack.note ? h`：${a.ack.note}` : ''}`;
  if (!v.user || !mayWrite(v.user.role)) return h``;
  return h`<form class="ack" method="post" action="/alerts/ack">${csrfField(v)}<input type="hidden" name="key" value="${a.key}">
    <input class="note" name="note" maxlength="500" placeholder="${t('alerts.notePlaceholder')}"><button type="submit">${t('alerts.ackButton')}</button></form>`;
}

export function alertsPage(v: View, alerts: DeskAlert[], message?: { kind: 'error' | 'info'; text: string }): string {
  const { t } = v;
  const open = alerts.filter((a) => !a.ack).length;
  const rows = alerts.map(
    (a) => h`<tr class="${a.ack ? 'acked' : 'unacked'}" data-key="${a.key}" data-kind="${a.kind}"><td>${t(`alertKind.${a.kind}`)}</td><td>${clock(v, a.at)}</td><td>${a.received === null ? '–' : clock(v, a.received)}</td>
      <td>${a.device}</td><td>${a.session ? h`<a href="${sessionHref(a.device, a.session)}">${a.session}</a>` : '–'}</td><td>${detail(v, a)}</td><td>${ackCell(v, a)}</td></tr>`,
  );
  const body = alerts.length === 0
    ? h`<p>${t('alerts.note', { s: REFRESH_S })}</p><p id="no-alerts">${t('alerts.none')}</p>`
    : h`<p>${t('alerts.note', { s: REFRESH_S })}</p><p id="open-count" data-v="${open}">${t('alerts.open', { n: open })}</p>
    <table id="alerts"><thead><tr><th>${t('alerts.kind')}</th><th>${t('alerts.at')}（${zoneHead(v)}）</th><th>${t('alerts.received')}</th><th>${t('alerts.device')}</th><th>${t('alerts.session')}</th><th>${t('alerts.detail')}</th><th>${t('alerts.ack')}</th></tr></thead><tbody>${rows}</tbody></table>`;
  return frame(v, t('alerts.title'), body, message, { refresh: REFRESH_S });
}
