/**
 * Session control in the console (docs/console.md, "Recording control"): start, pause with a reason, resume, stop,
 * 亮证 and written statements, through the recorder's own interface, as the panel and the control socket do. Only
 * admins act; every account sees the page. Officers named confirm with their own PINs through the gateway's
 * OfficerAuth (via "console", throttled per client address, refusals in the ledger as on the panel). Refusals are the
 * recorder's in words (recorder/refusal-words.ts); a success redirects to the page (a reload never acts twice).
 */
import type { Ctx, Reply, Route } from '../route.js';
import type { App } from '../app.js';
import type { SessionControl } from '../deps.js';
import { h } from '../html.js';
import { DICT, type Key } from '../i18n.js';
import { pauseParams, startParams, statementParams } from '../../control/protocol.js';
import { ConfirmRefused } from '../../officers/auth.js';
import { refusalZh, type SessionAction } from '../../recorder/refusal-words.js';
import { RecgwError } from '../../util/errors.js';
import { FormProblem, officerRows } from '../officer-rows.js';
import { actionsPart, statementsPart, statusPart, type SessionPage } from '../session-view.js';

/** How often the page refreshes its parts: a resume's prompt and its answer show within this. */
const LIVE_SECONDS = 2;

const DONE: Record<string, Key> = {
  start: 'sess.done.start',
  pause: 'sess.done.pause',
  resume: 'sess.done.resume',
  stop: 'sess.done.stop',
  credentials: 'sess.done.credentials',
  statement: 'sess.done.statement',
};

/** The message after a redirect: only the fixed words above (and pre-flight check names the dictionary has). */
function doneMessage(ctx: Ctx): { kind: 'success'; text: string } | undefined {
  const done = ctx.url.searchParams.get('done') ?? '';
  if (!Object.hasOwn(DONE, done)) return undefined;
  const forced = (ctx.url.searchParams.get('forced') ?? '').split(',').filter((c) => Object.hasOwn(DICT, `check.${c}`));
  if (done === 'start' && forced.length > 0) return { kind: 'success', text: ctx.t('sess.done.startForced', { checks: forced.map((c) => ctx.t(`check.${c}` as Key)).join(ctx.lang === 'en' ? ', ' : '、') }) };
  return { kind: 'success', text: ctx.t(DONE[done]!) };
}

/** HTTP status of a refusal: throttled PINs 429, other PIN refusals 403, bad input 400, a state that does not allow it 409. */
function refusalStatus(err: RecgwError): number {
  if (err instanceof ConfirmRefused) return err.failure === 'throttled' ? 429 : 403;
  return err.code === 'usage' ? 400 : err.code === 'recorder' ? 409 : 500;
}

export function sessionRoutes(app: App): Route[] {
  const view = async (ctx: Ctx, o: { status?: number; message?: { kind: 'error' | 'success'; text: string }; refill?: SessionPage['refill'] } = {}): Promise<Reply> => {
    const c = app.deps.sessions;
    const p: SessionPage = {
      st: await app.deps.status.status(),
      lacking: c?.lacking() ?? [],
      prompt: app.prompts.latest(),
      canAct: !!c && ctx.user?.role === 'admin',
      control: !!c,
      pins: c?.pinsRequired() ?? false,
      ...(o.refill ? { refill: o.refill } : {}),
    };
    const message = o.message ?? doneMessage(ctx);
    return app.page(ctx, ctx.t('nav.session'), h`${statusPart(ctx, p)}${actionsPart(ctx, p)}${statementsPart(ctx, p)}`, {
      live: { url: '/session', seconds: LIVE_SECONDS },
      ...(o.status ? { status: o.status } : {}),
      ...(message ? { message } : {}),
    });
  };

  /** A POST that acts: run it, redirect with what was done, or show the refusal with what was typed (never a PIN). */
  const act = (action: SessionAction, form: NonNullable<SessionPage['refill']>['form'] | undefined, run: (ctx: Ctx, c: SessionControl) => Promise<string>) => async (ctx: Ctx): Promise<Reply> => {
    const c = app.deps.sessions;
    if (!c) return view(ctx, { status: 404, message: { kind: 'error', text: ctx.t('sess.noControl') } });
    const refill = form ? { refill: { form, fields: ctx.fields } } : {};
    try {
      const done = await run(ctx, c);
      app.deps.log.info('console: session action', { user: ctx.user?.name, action });
      return { kind: 'redirect', to: `/session?done=${done}` };
    } catch (err) {
      if (err instanceof FormProblem) return view(ctx, { status: 400, message: { kind: 'error', text: ctx.t(err.key, err.vars) }, ...refill });
      if (err instanceof RecgwError) {
        const status = refusalStatus(err);
        app.deps.log[status === 500 ? 'error' : 'info']('console: session action refused', { user: ctx.user?.name, action, error: err.message });
        return view(ctx, { status, message: { kind: 'error', text: ctx.lang === 'en' ? err.message : refusalZh(err, action) }, ...refill });
      }
      app.deps.log.error('console: session action failed', { user: ctx.user?.name, action, err });
      return view(ctx, { status: 500, message: { kind: 'error', text: ctx.t('sess.failed', { detail: (err as Error)?.message ?? String(err) }) } });
    }
  };

  const post = (path: string, handle: (ctx: Ctx) => Promise<Reply>): Route => ({ method: 'POST', path, access: 'admin', api: false, handle });
  const f = (ctx: Ctx, key: string): string | undefined => {
    const v = (ctx.fields[key] ?? '').trim();
    return v === '' ? undefined : v;
  };

  return [
    { method: 'GET', path: '/session', access: 'user', api: false, handle: (ctx) => view(ctx) },
    post(
      '/session/start',
      act('start', 'start', async (ctx, c) => {
        const rows = officerRows(ctx.fields);
        // The control socket's own validation, so a console start is exactly a CLI start.
        const req = startParams({ matter: f(ctx, 'matter'), caseRef: f(ctx, 'caseRef'), party: f(ctx, 'party'), place: f(ctx, 'place'), officers: rows.map((r) => r.officer), force: ctx.fields.force === '1' });
        const confirmations = await c.confirm(rows, ctx.ip);
        const r = await c.recorder.startSession({ ...req, confirmations });
        return r.forced.length > 0 ? `start&forced=${r.forced.map((x) => encodeURIComponent(x.check)).join(',')}` : 'start';
      }),
    ),
    post(
      '/session/pause',
      act('pause', 'pause', async (ctx, c) => {
        const p = pauseParams({ reason: f(ctx, 'reason'), text: f(ctx, 'text') });
        await c.recorder.pauseSession(p.reason, p.text);
        return 'pause';
      }),
    ),
    post(
      '/session/resume',
      act('resume', undefined, async (_ctx, c) => {
        await c.recorder.resumeSession();
        return 'resume';
      }),
    ),
    post(
      '/session/stop',
      act('stop', 'stop', async (ctx, c) => {
        const confirmations = await c.confirm(officerRows(ctx.fields), ctx.ip);
        await c.recorder.stopSession({ confirmations });
        return 'stop';
      }),
    ),
    post(
      '/session/credentials',
      act('credentials', undefined, async (_ctx, c) => {
        await c.recorder.credentialsShown('console');
        return 'credentials';
      }),
    ),
    post(
      '/session/statement',
      act('statement', 'statement', async (ctx, c) => {
        const signing = officerRows(ctx.fields).filter((r) => r.confirms);
        const p = statementParams({ text: f(ctx, 'text'), sessionId: f(ctx, 'sessionId'), officers: signing.map((r) => r.officer) });
        const confirmations = await c.confirm(signing, ctx.ip);
        await c.recorder.statement(p.text, p.officers, p.sessionId, confirmations);
        return 'statement';
      }),
    ),
  ];
}
