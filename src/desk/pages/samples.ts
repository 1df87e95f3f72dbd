/**
 * The supervisor sample check's pages (制度 §22, docs/desk.md §4): /samples lists the draws and, for a supervisor, has
 * the form to draw N % of a period with an optional seed; /samples/:id shows the draw (period, percent, seed,
 * population), one row per sampled session with the index's prefilled facts and the supervisor's finding (a form to
 * confirm or correct each, with a note, until the report is signed), the sign form and the signed report's downloads.
 */
import { h, type Html } from '../../console/html.js';
import type { Sample, SampleFacts, SampleItem } from '../samples.js';
import { CHECKS } from '../samples.js';
import { maySupervise } from '../roles.js';
import { clock, csrfField, frame, when, zoneHead, type View } from '../view.js';
import { sessionHref } from './search.js';

type Message = { kind: 'error' | 'info'; text: string };

const day = (v: View, ms: number): string => when(v, ms).slice(0, 10);
const yesNo = (v: View, b: boolean): Html => h`<span class="${b ? 'ontime' : 'late'}">${b ? v.t('word.yes') : v.t('word.no')}</span>`;
const supervises = (v: View): boolean => v.user !== undefined && maySupervise(v.user.role);

export const sampleHref = (id: string): string => `/samples/${encodeURIComponent(id)}`;

function state(v: View, s: Sample): string {
  if (s.signedMs !== null) return v.t('samples.signedBy', { name: s.signedBy ?? '', time: when(v, s.signedMs) });
  return v.t('samples.checked', { n: s.items.filter((i) => i.check).length, m: s.items.length });
}

export function samplesPage(v: View, samples: Sample[], message?: Message): string {
  const { t } = v;
  const form = supervises(v)
    ? h`<h2>${t('samples.draw')}</h2><form id="draw" class="search" method="post" action="/samples">${csrfField(v)}
      <label>${t('samples.from')}<input type="date" name="from" required></label>
      <label>${t('samples.to')}<input type="date" name="to" required></label>
      <label>${t('samples.percent')}<input type="number" name="percent" min="1" max="100" value="10" required></label>
      <label>${t('samples.seed')}<input name="seed" maxlength="128"></label>
      <button type="submit">${t('samples.draw')}</button></form>`
    : '';
  const rows = samples.map(
    (s) => h`<tr data-id="${s.id}"><td>${clock(v, s.drawnMs)}</td><td>${s.name}</td><td>${day(v, s.fromMs)} – ${day(v, s.toMs - 1)}</td><td>${s.percent} %</td>
      <td>${s.items.length} / ${s.population}</td><td>${state(v, s)}</td><td><a href="${sampleHref(s.id)}">${t('samples.open')}</a></td></tr>`,
  );
  const table = samples.length === 0
    ? h`<p id="no-samples">${t('samples.none')}</p>`
    : h`<table id="samples"><thead><tr><th>${t('samples.drawn')}（${zoneHead(v)}）</th><th>${t('samples.by')}</th><th>${t('samples.period')}</th><th>${t('samples.percent')}</th><th>${t('samples.size')}</th><th>${t('samples.state')}</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
  return frame(v, t('samples.title'), h`<p>${t('samples.note')}</p>${form}${table}`, message);
}

function findingCell(v: View, s: Sample, item: SampleItem, index: number): Html {
  const { t } = v;
  const c = item.check;
  const done = c
    ? h`<ul class="finding">${CHECKS.map((k) => h`<li data-check="${k}" data-v="${c[k] ? 'yes' : 'no'}">${t(`samples.check.${k}`)}：${yesNo(v, c[k])}${c[k] !== item.facts[k] ? h` <small>${t('samples.corrected')}</small>` : ''}</li>`)}</ul>
      ${c.note ? h`<p class="note-text">${c.note}</p>` : ''}<small>${t('samples.checkedBy', { name: c.by, time: when(v, c.atMs) })}</small>`
    : h`<p class="unchecked">${t('samples.notChecked')}</p>`;
  if (s.signedMs !== null || !supervises(v)) return done;
  const value: SampleFacts = c ?? item.facts;
  return h`${done}<form class="check" method="post" action="${sampleHref(s.id)}/check">${csrfField(v)}<input type="hidden" name="index" value="${index}">
    ${CHECKS.map((k) => h`<label class="box"><input type="checkbox" name="${k}" value="yes"${value[k] ? h` checked` : ''}> ${t(`samples.check.${k}`)}</label>`)}
    <input class="note" name="note" maxlength="500" placeholder="${t('samples.noteLabel')}" value="${c?.note ?? ''}"><button type="submit">${t('samples.confirm')}</button></form>`;
}

export function samplePage(v: View, s: Sample, canSign: boolean, message?: Message): string {
  const { t } = v;
  const facts = h`<dl class="facts"><dt>${t('samples.period')}</dt><dd>${day(v, s.fromMs)} – ${day(v, s.toMs - 1)}</dd>
    <dt>${t('samples.percent')}</dt><dd>${s.percent} %</dd><dt>${t('samples.seed')}</dt><dd><code id="seed">${s.seed}</code></dd>
    <dt>${t('samples.size')}</dt><dd>${s.items.length} / ${s.population}</dd><dt>${t('samples.by')}</dt><dd>${s.name}，${when(v, s.drawnMs)}</dd>
    <dt>${t('samples.state')}</dt><dd id="state">${state(v, s)}</dd></dl>`;
  const rows = s.items.map(
    (i, n) => h`<tr id="item-${n}" class="${i.check ? 'checked' : 'open'}" data-session="${i.session}"><td><a href="${sessionHref(i.device, i.session)}">${i.device} / ${i.session}</a><br>${when(v, i.startMs)}<br>${i.matter}${i.caseRef ? h`<br>${i.caseRef}` : ''}</td>
      <td><ul class="facts">${CHECKS.map((k) => h`<li data-fact="${k}">${t(`samples.check.${k}`)}：${yesNo(v, i.facts[k])}</li>`)}</ul></td><td>${findingCell(v, s, i, n)}</td></tr>`,
  );
  const table = h`<table id="items"><thead><tr><th>${t('samples.item')}</th><th>${t('samples.facts')}</th><th>${t('samples.finding')}</th></tr></thead><tbody>${rows}</tbody></table>`;
  let end: Html;
  if (s.signedMs !== null) {
    end = h`<h2>${t('samples.downloads')}</h2><p id="downloads"><a id="report-json" href="${sampleHref(s.id)}/report.json" download>report.json</a> · <a id="report-sig" href="${sampleHref(s.id)}/report.sig" download>report.sig</a></p><p><small>${t('samples.verifyHint')}</small></p>`;
  } else if (!supervises(v)) end = h``;
  else if (!canSign) end = h`<p class="msg error">${t('samples.noSigner')}</p>`;
  else end = h`<form id="sign" method="post" action="${sampleHref(s.id)}/sign">${csrfField(v)}<p>${t('samples.signHint')}</p><button type="submit">${t('samples.sign')}</button></form>`;
  return frame(v, t('samples.title'), h`${facts}${table}${end}`, message);
}
