/**
 * The config editor: the installation's JSON config in a text field; "check" shows every key with its problem
 * beside it, the diff against the file, and which changes need a restart; "apply" (admins only) checks it all
 * again on the server, writes the file and records the diff in the ledger. Nothing the browser sends is trusted:
 * the diff and the checks are always recomputed from the text itself.
 */
import { h, type Html } from '../html.js';
import { HttpError, type Ctx, type Reply, type Route } from '../route.js';
import type { App } from '../app.js';
import type { ConfigChange } from '../deps.js';
import type { ConfigProblem } from '../../config/load.js';
import { configProblems, configWarnings, diffConfig, flatten, parseConfigJson, shortValue } from '../../config/diff.js';
import { editedAgencyFileProblems } from '../../config/agency-files.js';
import { normaliseConfigText, readConfigText, replaceConfigText, textHash } from '../config-file.js';
import { csrfField } from './auth.js';
import { keyName, keyNames, valueWords } from '../config-names.js';

/** A key cell: the key in words, the key as written in the JSON in its title. */
const keyCell = (ctx: Ctx, key: string, config?: unknown): Html => h`<td class="key" title="${key}">${keyName(key, ctx.lang, config)}</td>`;

interface Checked {
  text: string;
  base: string;
  syntax?: { message: string; line: number; column: number };
  problems: ConfigProblem[];
  changes: ConfigChange[];
  warnings: { key: string; warning: 'warn.deviceId' | 'warn.stateDir' }[];
  value?: unknown;
}

async function check(file: string, submitted: string, at: Date): Promise<Checked> {
  const current = await readConfigText(file);
  const text = normaliseConfigText(submitted);
  const base = textHash(current);
  const parsed = parseConfigJson(text);
  if (!parsed.ok) return { text, base, syntax: parsed, problems: [], changes: [], warnings: [] };
  // The files it names as the gateway would check them at start: never write a config it would refuse to run with.
  const problems = [...configProblems(parsed.value), ...editedAgencyFileProblems(parsed.value, file, at)];
  const before = parseConfigJson(current);
  const changes = diffConfig(before.ok ? before.value : {}, parsed.value);
  return { text, base, problems, changes, warnings: configWarnings(changes), value: parsed.value };
}

/** Each key of the edited config with its value and, beside it, its problem; problems of absent keys sit with their siblings. */
function fieldRows(ctx: Ctx, value: unknown, problems: ConfigProblem[]): Html {
  const rows: { key: string; value?: unknown; problem?: string }[] = [...flatten(value)].map(([key, v]) => ({ key, value: v }));
  for (const p of problems) {
    const text = ctx.lang === 'en' ? p.message : p.zh;
    const row = rows.find((r) => r.key === p.key);
    if (row) {
      row.problem = row.problem ? `${row.problem}; ${text}` : text;
      continue;
    }
    const parent = p.key.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    let at = -1;
    rows.forEach((r, i) => {
      if (r.key.startsWith(p.key) || (parent !== p.key && r.key.startsWith(parent))) at = i;
    });
    rows.splice(at + 1, 0, { key: p.key, problem: text });
  }
  return h`<table id="fields"><thead><tr><th>${ctx.t('col.key')}</th><th>${ctx.t('col.value')}</th><th>${ctx.t('col.problem')}</th></tr></thead><tbody>
${rows.map((r) => h`<tr class="${r.problem ? 'bad' : ''}" data-key="${r.key}">${keyCell(ctx, r.key, value)}<td class="mono">${valueWords(r.key, shortValue(r.value), r.value, ctx.lang)}</td><td class="problem">${r.problem ?? ''}</td></tr>`)}
</tbody></table>`;
}

function diffTable(ctx: Ctx, changes: ConfigChange[], config?: unknown): Html {
  if (changes.length === 0) return h`<p id="no-changes">${ctx.t('cfg.noChanges')}</p>`;
  const value = (key: string, v: unknown) => (v === undefined ? h`<span class="warn">${ctx.t('cfg.unset')}</span>` : valueWords(key, shortValue(v), v, ctx.lang));
  return h`<table id="diff"><thead><tr><th>${ctx.t('col.key')}</th><th>${ctx.t('cfg.before')}</th><th>${ctx.t('cfg.after')}</th><th>${ctx.t('cfg.restart')}</th></tr></thead><tbody>
${changes.map(
  (c) => h`<tr data-key="${c.key}">${keyCell(ctx, c.key, config)}<td class="mono">${value(c.key, c.from)}</td><td class="mono">${value(c.key, c.to)}</td>
<td class="${c.restart ? 'warn' : ''}">${ctx.t(c.restart ? 'cfg.restartYes' : 'cfg.restartNo')}</td></tr>`,
)}</tbody></table>`;
}

function editor(ctx: Ctx, text: string, base: string): Html {
  return h`<form method="post" action="/config/preview">${csrfField(ctx)}<input type="hidden" name="base" value="${base}">
<textarea name="text" id="config-text" rows="28" spellcheck="false">${text}</textarea>
<p><button type="submit" id="check-config">${ctx.t('cfg.check')}</button></p></form>`;
}

function previewPage(app: App, ctx: Ctx, c: Checked, status = 200): Reply {
  const valid = !c.syntax && c.problems.length === 0;
  const canApply = valid && c.changes.length > 0;
  const message = c.syntax
    ? { kind: 'error' as const, text: ctx.t('cfg.syntax', { line: c.syntax.line, column: c.syntax.column, message: c.syntax.message }) }
    : c.problems.length
      ? { kind: 'error' as const, text: ctx.t('cfg.invalid', { n: c.problems.length }) }
      : { kind: 'success' as const, text: ctx.t('cfg.valid') };
  const applyForm = !canApply
    ? ''
    : ctx.user?.role === 'admin'
      ? h`<form method="post" action="/config/apply">${csrfField(ctx)}<input type="hidden" name="base" value="${c.base}"><input type="hidden" name="text" value="${c.text}">
<button type="submit" id="apply-config">${ctx.t('cfg.apply')}</button></form>`
      : h`<p class="warn">${ctx.t('cfg.adminOnly')}</p>`;
  return app.page(
    ctx,
    ctx.t('nav.config'),
    h`${c.warnings.map((w) => h`<div class="msg error">${keyName(w.key, ctx.lang)}${ctx.t('punct.colon')}${ctx.t(w.warning)}</div>`)}
<h2>${ctx.t('cfg.diff')}</h2>${c.syntax ? '' : diffTable(ctx, c.changes, c.value)}${applyForm}
${c.value !== undefined ? h`<h2>${ctx.t('cfg.fields')}</h2>${fieldRows(ctx, c.value, c.problems)}` : ''}
<h2>${ctx.t('cfg.edit')}</h2>${editor(ctx, c.text, c.base)}`,
    { status, message },
  );
}

/** Check an edited config text and show the preview (diff, problems, apply button): also for edits made elsewhere (the camera finder). */
export async function previewConfigText(app: App, ctx: Ctx, text: string): Promise<Reply> {
  const c = await check(app.deps.config.file, text, new Date(app.now()));
  return previewPage(app, ctx, c, c.syntax || c.problems.length ? 400 : 200);
}

export function configRoutes(app: App): Route[] {
  const file = (): string => app.deps.config.file;
  /** Applies run one at a time: two admins cannot both pass the "unchanged since" check with the same file. */
  let applying: Promise<unknown> = Promise.resolve();

  const apply = async (ctx: Ctx, submitted: string, base: string): Promise<{ status: number; c: Checked; applied: boolean; reason?: string; liveFailed?: string }> => {
    const run = applying.then(async () => {
      const c = await check(file(), submitted, new Date(app.now()));
      if (c.syntax || c.problems.length) return { status: 400, c, applied: false, reason: 'invalid' };
      if (c.changes.length === 0) return { status: 400, c, applied: false, reason: 'no-changes' };
      if (!(await replaceConfigText(file(), base, c.text))) return { status: 409, c, applied: false, reason: 'changed-meanwhile' };
      app.audit.configChanged(ctx.user!.name, file(), textHash(c.text), c.changes);
      app.deps.log.info('config changed from the console', { user: ctx.user!.name, keys: c.changes.map((x) => x.key) });
      try {
        await app.deps.config.onApplied?.();
      } catch (err) {
        // Written and audited, but the running gateway could not take it: it takes effect at the next start.
        app.deps.log.error('the running gateway could not apply the changed config', { err: String(err) });
        return { status: 200, c, applied: true, liveFailed: String(err) };
      }
      return { status: 200, c, applied: true };
    });
    applying = run.catch(() => undefined);
    return run;
  };

  const text = (ctx: Ctx): string => {
    const t = ctx.fields.text;
    if (typeof t !== 'string') throw new HttpError(400, 'send the config as "text"');
    return t;
  };

  return [
    {
      method: 'GET',
      path: '/config',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        const current = await readConfigText(file());
        return app.page(ctx, ctx.t('nav.config'), h`<p>${ctx.t('cfg.intro', { file: file() })}</p>${editor(ctx, current, textHash(current))}`);
      },
    },
    {
      method: 'POST',
      path: '/config/preview',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        return previewConfigText(app, ctx, text(ctx));
      },
    },
    {
      method: 'POST',
      path: '/config/apply',
      access: 'admin',
      api: false,
      handle: async (ctx) => {
        const r = await apply(ctx, text(ctx), ctx.fields.base ?? '');
        if (r.reason === 'changed-meanwhile') {
          // Start again from the file as it is now; the technician's text stays in the editor.
          return app.page(ctx, ctx.t('nav.config'), editor(ctx, r.c.text, r.c.base), { status: 409, message: { kind: 'error', text: ctx.t('cfg.changedMeanwhile') } });
        }
        if (!r.applied) return previewPage(app, ctx, r.c, r.status);
        const restart = r.c.changes.filter((c) => c.restart).map((c) => c.key);
        const live = r.c.changes.filter((c) => !c.restart).map((c) => c.key);
        return app.page(
          ctx,
          ctx.t('nav.config'),
          h`${diffTable(ctx, r.c.changes, r.c.value)}${live.length && !r.liveFailed ? h`<p id="live-note" title="${live.join(', ')}">${ctx.t('cfg.appliedLive', { keys: keyNames(live, ctx.lang, r.c.value) })}</p>` : ''}
${r.liveFailed ? h`<p class="warn" id="live-failed">${ctx.t('cfg.liveFailed', { error: r.liveFailed })}</p>` : ''}
${restart.length ? h`<p class="warn" id="restart-note" title="${restart.join(', ')}">${ctx.t('cfg.restartNeeded', { keys: keyNames(restart, ctx.lang, r.c.value) })}</p>` : ''}
<p><a href="/config">${ctx.t('cfg.back')}</a></p>`,
          { message: { kind: 'success', text: ctx.t('cfg.applied') } },
        );
      },
    },
    {
      method: 'GET',
      path: '/api/config',
      access: 'user',
      api: true,
      handle: async () => {
        const current = await readConfigText(file());
        return { kind: 'json', body: { file: file(), text: current, base: textHash(current) } };
      },
    },
    {
      method: 'POST',
      path: '/api/config/preview',
      access: 'user',
      api: true,
      handle: async (ctx) => {
        const c = await check(file(), text(ctx), new Date(app.now()));
        const { value: _value, ...out } = c;
        return { kind: 'json', status: c.syntax || c.problems.length ? 400 : 200, body: out };
      },
    },
    {
      method: 'POST',
      path: '/api/config/apply',
      access: 'admin',
      api: true,
      handle: async (ctx) => {
        const r = await apply(ctx, text(ctx), ctx.fields.base ?? '');
        const { value: _value, ...out } = r.c;
        return { kind: 'json', status: r.status, body: { applied: r.applied, ...(r.reason ? { reason: r.reason } : {}), ...out } };
      },
    },
  ];
}
