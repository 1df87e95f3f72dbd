/**
 * The camera aiming aid: one still picture of a camera, taken on request, embedded in the answer page and kept
 * nowhere (not on disk, not in memory after the answer). Refused while a session is open: the aid must never be a
 * way to watch what is being recorded.
 */
import { h } from '../html.js';
import type { Ctx, Route } from '../route.js';
import type { App } from '../app.js';
import { RecgwError } from '../../util/errors.js';
import { csrfField } from './auth.js';

export function aimRoutes(app: App): Route[] {
  const view = (ctx: Ctx, shot?: { id: string; jpeg: Buffer; ms: number }, message?: { kind: 'error' | 'info'; text: string }, status = 200) => {
    const { t } = ctx;
    const cams = app.deps.still.sources().filter((s) => s.kind === 'camera');
    return app.page(
      ctx,
      t('nav.aim'),
      h`<p>${t('aim.intro')}</p>${cams.map(
        (s) => h`<form method="post" action="/aim" class="inline">${csrfField(ctx)}<input type="hidden" name="source" value="${s.id}">
<button type="submit" data-source="${s.id}">${t('aim.take', { source: s.label ? `${s.id} (${s.label})` : s.id })}</button></form> `,
      )}
${shot ? h`<h2>${shot.id}</h2><p>${t('aim.taken', { ms: shot.ms })}</p><img class="still" id="still" alt="${shot.id}" src="data:image/jpeg;base64,${shot.jpeg.toString('base64')}">` : ''}`,
      { status, ...(message ? { message } : {}) },
    );
  };
  return [
    { method: 'GET', path: '/aim', access: 'user', api: false, handle: (ctx) => view(ctx) },
    {
      method: 'POST',
      path: '/aim',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        if (await app.deps.sessionOpen()) return view(ctx, undefined, { kind: 'error', text: ctx.t('aim.recording') }, 409);
        const id = ctx.fields.source ?? '';
        const t0 = app.now();
        try {
          const jpeg = await app.deps.still.grab(id);
          app.deps.log.info('console: aiming picture taken', { user: ctx.user?.name, source: id });
          return view(ctx, { id, jpeg, ms: app.now() - t0 });
        } catch (err) {
          // The driver's reason is in English; the page says in its own language that no picture came.
          if (err instanceof RecgwError) return view(ctx, undefined, { kind: 'error', text: ctx.t('aim.failed', { source: id, detail: err.message }) }, err.code === 'usage' ? 400 : 503);
          throw err;
        }
      },
    },
  ];
}
