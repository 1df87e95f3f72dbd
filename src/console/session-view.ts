/**
 * The session page's parts (routes/session.ts serves them): the session's state with the recorder's prompt, the
 * actions its state allows (for an account that may act), and the sessions lacking a written statement with a form
 * for each. Each part is `data-live`: the page refreshes it from the server while nobody is typing in it. A PIN field
 * is always empty: what was typed before a refusal comes back, PINs never.
 */
import { h, type Html } from './html.js';
import type { Ctx, Fields } from './route.js';
import type { ConsoleStatus, LackingSession } from './deps.js';
import type { SeenPrompt } from './prompts.js';
import type { Officer } from '../evidence/types.js';
import { MATTERS, REASONS, reasonByCode, type Term } from '../evidence/vocabulary.js';
import { csrfField } from './routes/auth.js';
import { OFFICER_ROWS, rowField } from './officer-rows.js';
import { when } from './times.js';

/** What the page is made with. */
export interface SessionPage {
  st: ConsoleStatus;
  lacking: LackingSession[];
  prompt: SeenPrompt | undefined;
  /** The account may act (an admin, on a console that controls sessions). */
  canAct: boolean;
  /** The console controls sessions at all. */
  control: boolean;
  pins: boolean;
  /** After a refusal: the form it came from and what was typed (PINs are never shown again). */
  refill?: { form: 'start' | 'pause' | 'stop' | 'statement'; fields: Fields };
}

type State = 'idle' | 'recording' | 'paused';
/** The start form's officer rows: the panel's four slots. */
const START_ROWS = 4;

const stateOf = (st: ConsoleStatus): State => (!st.session || st.session.state === 'closed' ? 'idle' : st.session.state);
const term = (ctx: Ctx, t: Term): string => (ctx.lang === 'en' ? t.en : t.zh);
const who = (ctx: Ctx, officers: Officer[]): string => officers.map((o) => (ctx.lang === 'en' ? `${o.name} (${o.badge})` : `${o.name}（${o.badge}）`)).join(ctx.lang === 'en' ? ', ' : '、');
const STATE_KEY = { idle: 'rec.idle', recording: 'rec.recording', paused: 'rec.paused' } as const;

/** The session's state, its open interruption, and what the gateway asks of the officers now. */
export function statusPart(ctx: Ctx, p: SessionPage): Html {
  const { t } = ctx;
  const s = p.st.session;
  const state = stateOf(p.st);
  const open = s?.interruptions.find((i) => i.end === null);
  const reason = open ? reasonByCode(open.reason) : undefined;
  return h`<div class="card" id="session-live" data-live data-state="${state}"><dl>
<dt>${t('ov.state')}</dt><dd id="sess-state" class="${state === 'paused' ? 'warn' : state === 'recording' ? 'ok' : ''}">${t(STATE_KEY[state])}</dd>
${s ? h`<dt>${t('ov.case')}</dt><dd id="sess-case">${s.caseRef || '–'} · ${s.matterLabel}</dd><dt>${t('sess.officers')}</dt><dd>${who(ctx, s.officers)}</dd>
<dt>${t('ov.since')}</dt><dd>${when(ctx, s.start)}${s.end ? h` – ${when(ctx, s.end)}` : ''}</dd>` : ''}
${open && state === 'paused' ? h`<dt>${t('sess.openReason')}</dt><dd id="sess-reason">${reason ? term(ctx, reason) : open.reason}${open.text ? h`（${open.text}）` : ''} · ${when(ctx, open.start)}</dd>` : ''}
${p.control ? h`<dt>${t('sess.confirming')}</dt><dd>${t(p.pins ? 'sess.pinsOn' : 'sess.pinsOff')}</dd>` : ''}
</dl>${promptLine(ctx, p)}</div>`;
}

/** While the gateway listens after a resume: the request to state the reason; otherwise the latest prompt of this session. */
function promptLine(ctx: Ctx, p: SessionPage): Html | '' {
  const l = p.st.listening;
  if (l) return h`<p class="msg info" id="sess-prompt" data-prompt="state-reason">${ctx.t('sess.listening', { until: when(ctx, l.until) })}</p>`;
  const s = p.st.session;
  const pr = p.prompt;
  // A prompt of this session; asking for a statement only while the session still lacks one.
  if (!pr || !s || pr.at < Date.parse(s.start) || (pr.code === 'statement-needed' && !s.lacksStatement)) return '';
  return h`<p class="msg info" id="sess-prompt" data-prompt="${pr.code}">${ctx.t('sess.prompt', { time: when(ctx, pr.at), text: ctx.lang === 'en' ? pr.en : pr.zh })}</p>`;
}

/** The actions the session's state allows, for an account that may act; a note for the others. */
export function actionsPart(ctx: Ctx, p: SessionPage): Html {
  const state = stateOf(p.st);
  const kept = p.refill && p.refill.form !== 'statement';
  const body = !p.control
    ? h`<p id="no-control">${ctx.t('sess.noControl')}</p>`
    : !p.canAct
      ? h`<p id="read-only">${ctx.t('sess.readOnly')}</p>`
      : state === 'idle'
        ? startForm(ctx, p)
        : h`<div class="actions">${state === 'recording' ? pauseForm(ctx, p) : resumeForm(ctx)}${credentialsForm(ctx)}${stopForm(ctx, p, state)}</div>`;
  return h`<div id="session-actions" data-live data-state="${state}"${kept ? h` data-kept` : ''}>${body}</div>`;
}

const value = (p: SessionPage, form: string, key: string): string => (p.refill?.form === form ? (p.refill.fields[key] ?? '') : '');

/** A PIN field: never given a value. `form` keeps ids unique on a page with several forms. */
const pinInput = (form: string, n: number, label: string): Html =>
  h`<input type="password" id="${form}-${rowField(n, 'pin')}" name="${rowField(n, 'pin')}" inputmode="numeric" autocomplete="off" maxlength="64" aria-label="${label}">`;

function startForm(ctx: Ctx, p: SessionPage): Html {
  const { t } = ctx;
  const v = (k: string): string => value(p, 'start', k);
  const rows = Array.from({ length: START_ROWS }, (_, i) => i + 1).map(
    (n) => h`<tr><th>${t('sess.officer', { n })}</th><td><input type="text" id="${rowField(n, 'name')}" name="${rowField(n, 'name')}" value="${v(rowField(n, 'name'))}" maxlength="32" aria-label="${t('sess.name')}"></td>
<td><input type="text" id="${rowField(n, 'badge')}" name="${rowField(n, 'badge')}" value="${v(rowField(n, 'badge'))}" maxlength="32" aria-label="${t('sess.badge')}"></td>${p.pins ? h`<td>${pinInput('start', n, t('sess.pin'))}</td>` : ''}</tr>`,
  );
  return h`<form method="post" action="/session/start" class="box wide" id="start-form">${csrfField(ctx)}<h2>${t('sess.start')}</h2>
<label for="matter">${t('sess.matter')}</label><select id="matter" name="matter">${MATTERS.map((m) => h`<option value="${m.code}"${v('matter') === m.code ? h` selected` : ''}>${term(ctx, m)}</option>`)}</select>
<label for="caseRef">${t('sess.caseRef')}</label><input type="text" id="caseRef" name="caseRef" value="${v('caseRef')}" maxlength="200">
<label for="party">${t('sess.party')}</label><input type="text" id="party" name="party" value="${v('party')}" maxlength="200">
<label for="place">${t('sess.place')}</label><input type="text" id="place" name="place" value="${v('place')}" maxlength="200">
<table class="officers"><thead><tr><th></th><th>${t('sess.name')}</th><th>${t('sess.badge')}</th>${p.pins ? h`<th>${t('sess.pin')}</th>` : ''}</tr></thead><tbody>${rows}</tbody></table>
${p.pins ? h`<p class="hint">${t('sess.startHintPins')}</p>` : ''}
<label><input type="checkbox" id="force" name="force" value="1"> ${t('sess.force')}</label>
<p><button type="submit" id="start-session">${t('sess.start')}</button></p></form>`;
}

function pauseForm(ctx: Ctx, p: SessionPage): Html {
  const { t } = ctx;
  const chosen = value(p, 'pause', 'reason');
  return h`<form method="post" action="/session/pause" class="card" id="pause-form">${csrfField(ctx)}<h2>${t('sess.pause')}</h2>
<label for="reason">${t('sess.reason')}</label><select id="reason" name="reason">${REASONS.map((r) => h`<option value="${r.code}"${chosen === r.code ? h` selected` : ''}>${term(ctx, r)}</option>`)}</select>
<label for="reason-text">${t('sess.reasonText')}</label><input type="text" id="reason-text" name="text" value="${value(p, 'pause', 'text')}" maxlength="1000">
<p><button type="submit" id="pause-session">${t('sess.pause')}</button></p></form>`;
}

const resumeForm = (ctx: Ctx): Html =>
  h`<form method="post" action="/session/resume" class="card" id="resume-form">${csrfField(ctx)}<h2>${ctx.t('sess.resume')}</h2><p class="hint">${ctx.t('sess.resumeHint')}</p>
<p><button type="submit" id="resume-session">${ctx.t('sess.resume')}</button></p></form>`;

const credentialsForm = (ctx: Ctx): Html =>
  h`<form method="post" action="/session/credentials" class="card" id="credentials-form">${csrfField(ctx)}<h2>${ctx.t('sess.credentials')}</h2><p class="hint">${ctx.t('sess.credentialsHint')}</p>
<p><button type="submit" id="credentials-shown">${ctx.t('sess.credentials')}</button></p></form>`;

/** The session's own officers, named by hidden fields, each with a PIN field (roster) or a tick. */
function officerTable(ctx: Ctx, form: string, officers: Officer[], pins: boolean, tick: boolean): Html {
  const { t } = ctx;
  const rows = officers.slice(0, OFFICER_ROWS).map(
    (o, i) => h`<tr><td>${o.name}<input type="hidden" name="${rowField(i + 1, 'name')}" value="${o.name}"></td><td>${o.badge}<input type="hidden" name="${rowField(i + 1, 'badge')}" value="${o.badge}"></td>
${pins ? h`<td>${pinInput(form, i + 1, `${t('sess.pin')} ${o.name}`)}</td>` : tick ? h`<td class="pick"><input type="checkbox" id="${form}-${rowField(i + 1, 'sign')}" name="${rowField(i + 1, 'sign')}" value="1" aria-label="${t('sess.sign')} ${o.name}"></td>` : ''}</tr>`,
  );
  return h`<table class="officers"><thead><tr><th>${t('sess.name')}</th><th>${t('sess.badge')}</th>${pins ? h`<th>${t('sess.pin')}</th>` : tick ? h`<th>${t('sess.sign')}</th>` : ''}</tr></thead><tbody>${rows}</tbody></table>`;
}

/** A plain stop while recording; while paused the session ends early, which two of its officers confirm (roster). */
function stopForm(ctx: Ctx, p: SessionPage, state: State): Html {
  const { t } = ctx;
  const early = state === 'paused';
  return h`<form method="post" action="/session/stop" class="card" id="stop-form">${csrfField(ctx)}<h2>${t(early ? 'sess.stopEarly' : 'sess.stop')}</h2>
${early ? h`<p class="hint">${t(p.pins ? 'sess.stopEarlyPins' : 'sess.stopEarlyNoPins')}</p>${p.pins ? officerTable(ctx, 'stop', p.st.session?.officers ?? [], true, false) : ''}` : ''}
<p><button type="submit" id="stop-session">${t(early ? 'sess.stopEarly' : 'sess.stop')}</button></p></form>`;
}

/** Sessions lacking a written statement: what and when, why, and (for an account that may act) the form. */
export function statementsPart(ctx: Ctx, p: SessionPage): Html {
  const { t } = ctx;
  const ids = p.lacking.map((l) => l.sessionId).join(' ');
  const kept = p.refill?.form === 'statement';
  const cards = p.lacking.map((l, i) => {
    const mine = kept && p.refill?.fields.sessionId === l.sessionId;
    return h`<div class="card" data-session="${l.sessionId}"><dl><dt>${t('ov.case')}</dt><dd>${l.caseRef || '–'} · ${l.matterLabel}</dd>
<dt>${t('ov.since')}</dt><dd>${when(ctx, l.start)} – ${when(ctx, l.end)}</dd><dt>${t('sess.officers')}</dt><dd>${who(ctx, l.officers)}</dd>
<dt>${t('sess.why')}</dt><dd class="bad">${t(l.why === 'terminated' ? 'sess.whyTerminated' : 'sess.whyUnexplained')}</dd></dl>
${p.canAct
  ? h`<form method="post" action="/session/statement" data-statement-for="${l.sessionId}">${csrfField(ctx)}<input type="hidden" name="sessionId" value="${l.sessionId}">
<label for="statement-${i}-text">${t('sess.statementText')}</label><textarea id="statement-${i}-text" name="text" rows="3" maxlength="1000">${mine ? (p.refill?.fields.text ?? '') : ''}</textarea>
<p class="hint">${t(p.pins ? 'sess.statementPins' : 'sess.statementNoPins')}</p>${officerTable(ctx, `statement-${i}`, l.officers, p.pins, !p.pins)}
<p><button type="submit" class="submit-statement">${t('sess.submitStatement')}</button></p></form>`
  : ''}</div>`;
  });
  return h`<div id="session-statements" data-live data-state="${ids}"${kept ? h` data-kept` : ''}><h2>${t('sess.statements')}</h2>
${p.lacking.length ? cards : h`<p id="no-lacking">${t('sess.noneLacking')}</p>`}</div>`;
}
