/**
 * Finding IP cameras on the LAN (ONVIF WS-Discovery): each camera that answers with its address, maker and model,
 * and per stream profile its RTSP URI, resolution, frame rate and GOP. One click puts a profile's RTSP URI (and the
 * camera's ONVIF address and login) into an rtsp source of the config: the edit goes through the config page's
 * preview, so it is checked, shown as a diff and applied (by an admin) and audited like any other change.
 */
import { h, type Html } from '../html.js';
import { HttpError, type Ctx, type Route } from '../route.js';
import type { App } from '../app.js';
import type { FoundCamera } from '../deps.js';
import { readConfigText } from '../config-file.js';
import { parseConfigJson } from '../../config/diff.js';
import { csrfField } from './auth.js';
import { previewConfigText } from './config.js';

interface RtspSource {
  id: string;
  label?: string;
}

/** The rtsp sources of the config file as it is now (the ones a found stream can be put into). */
async function rtspSources(app: App): Promise<RtspSource[]> {
  const parsed = parseConfigJson(await readConfigText(app.deps.config.file));
  if (!parsed.ok) return [];
  const sources = (parsed.value as { recording?: { sources?: unknown } }).recording?.sources;
  return (Array.isArray(sources) ? sources : []).filter((s: { driver?: unknown; id?: unknown }) => s?.driver === 'rtsp' && typeof s.id === 'string') as RtspSource[];
}

/** The stream URL ffmpeg is given: the camera's URI with the login in it when one was entered (RTSP digest). */
export function withLogin(uri: string, user?: string, password?: string): string {
  if (!user) return uri;
  const u = new URL(uri);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password ?? '');
  return u.toString();
}

function scanForm(app: App, ctx: Ctx, f: { interface?: string; user?: string }): Html {
  const t = ctx.t;
  const ifs = app.deps.cameras?.interfaces() ?? [];
  return h`<form method="post" action="/cameras" id="scan-form">${csrfField(ctx)}
<label>${t('cam.interface')} <select name="interface" id="cam-interface"><option value="">${t('cam.allInterfaces')}</option>${ifs.map(
    (i) => h`<option value="${i.name}"${f.interface === i.name ? h` selected` : ''}>${i.name} (${i.address})</option>`,
  )}</select></label>
<label>${t('field.name')} <input name="user" id="cam-user" autocomplete="off" value="${f.user ?? ''}"></label>
<label>${t('field.password')} <input name="password" id="cam-password" type="password" autocomplete="off"></label>
<button type="submit" id="scan-cameras">${t('cam.scan')}</button></form>`;
}

function results(ctx: Ctx, cams: FoundCamera[], sources: RtspSource[], login: { user?: string; password?: string }): Html {
  const t = ctx.t;
  if (cams.length === 0) return h`<p id="no-cameras">${t('cam.none')}</p>`;
  const use = (uri: string, xaddr: string): Html =>
    sources.length === 0
      ? h`<span class="warn">${t('cam.noRtspSource')}</span>`
      : h`<form method="post" action="/cameras/use" class="inline">${csrfField(ctx)}<input type="hidden" name="url" value="${uri}"><input type="hidden" name="xaddr" value="${xaddr}">
<input type="hidden" name="user" value="${login.user ?? ''}"><input type="hidden" name="password" value="${login.password ?? ''}">
<select name="source">${sources.map((s) => h`<option value="${s.id}">${s.label ? `${s.id} (${s.label})` : s.id}</option>`)}</select>
<button type="submit" class="use-stream">${t('cam.use')}</button></form>`;
  const rows = cams.flatMap((c) => {
    const host = new URL(c.xaddrs[0]!).host;
    const what = c.info ? `${c.info.maker} ${c.info.model}` : [c.name, c.hardware].filter(Boolean).join(' ');
    if (c.error || c.profiles.length === 0) {
      return [h`<tr class="bad" data-camera="${c.urn}"><td class="mono">${host}</td><td>${what}</td><td colspan="5" class="problem">${c.error ?? t('cam.noProfiles')}</td><td></td></tr>`];
    }
    return c.profiles.map((p) => {
      const e = p.encoder;
      return h`<tr data-camera="${c.urn}" data-profile="${p.token}"><td class="mono">${host}</td><td>${what}</td><td>${p.name}</td>
<td class="num">${e ? `${e.width}×${e.height}` : '–'}</td><td class="num">${e ? `${e.fps}` : '–'}</td>
<td class="num gop">${e?.govLength !== undefined ? t('cam.gop', { frames: e.govLength, seconds: (e.gopSeconds ?? 0).toFixed(1) }) : '–'}</td>
<td class="mono rtsp">${p.rtspUri ?? '–'}</td><td>${p.rtspUri ? use(withLogin(p.rtspUri, login.user, login.password), c.xaddrs[0]!) : ''}</td></tr>`;
    });
  });
  return h`<table id="cameras"><thead><tr><th>${t('cam.address')}</th><th>${t('cam.model')}</th><th>${t('cam.profile')}</th><th>${t('cam.resolution')}</th>
<th>${t('cam.fps')}</th><th>GOP</th><th>RTSP</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function cameraRoutes(app: App): Route[] {
  const field = (ctx: Ctx, k: string): string | undefined => {
    const v = ctx.fields[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  return [
    {
      method: 'GET',
      path: '/cameras',
      access: 'user',
      api: false,
      handle: (ctx) => app.page(ctx, ctx.t('nav.cameras'), h`<p>${ctx.t('cam.intro')}</p>${scanForm(app, ctx, {})}`),
    },
    {
      method: 'POST',
      path: '/cameras',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        const finder = app.deps.cameras;
        if (!finder) throw new HttpError(503, ctx.t('cam.unavailable'));
        const f = { interface: field(ctx, 'interface'), user: field(ctx, 'user'), password: field(ctx, 'password') };
        if (f.interface && !finder.interfaces().some((i) => i.name === f.interface)) throw new HttpError(400, ctx.t('cam.badInterface', { name: f.interface }));
        const login = { ...(f.user ? { user: f.user, password: f.password ?? '' } : {}) };
        const found = await finder.find({ ...(f.interface ? { interface: f.interface } : {}), ...login });
        app.deps.log.info('console: cameras searched', { user: ctx.user?.name, interface: f.interface ?? 'all', found: found.length });
        return app.page(
          ctx,
          ctx.t('nav.cameras'),
          h`${scanForm(app, ctx, { ...(f.interface ? { interface: f.interface } : {}), ...(f.user ? { user: f.user } : {}) })}
<h2>${ctx.t('cam.found', { n: found.length })}</h2>${results(ctx, found, await rtspSources(app), login)}`,
        );
      },
    },
    {
      method: 'POST',
      path: '/cameras/use',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        const id = field(ctx, 'source');
        const url = field(ctx, 'url');
        const xaddr = field(ctx, 'xaddr');
        if (!id || !url || !/^rtsps?:\/\//.test(url)) throw new HttpError(400, 'send source and an rtsp:// url');
        const parsed = parseConfigJson(await readConfigText(app.deps.config.file));
        if (!parsed.ok) throw new HttpError(409, ctx.t('cam.configBroken'));
        const config = parsed.value as { recording?: { sources?: Record<string, unknown>[] } };
        const source = config.recording?.sources?.find((s) => s.id === id && s.driver === 'rtsp');
        if (!source) throw new HttpError(400, ctx.t('cam.noSuchSource', { source: id }));
        source.url = url;
        const user = field(ctx, 'user');
        const old = (source.onvif ?? {}) as Record<string, unknown>;
        // The camera's ONVIF address, and the login when one was entered for the search; other onvif keys are kept.
        if (user || source.onvif) source.onvif = { ...old, ...(xaddr && /^https?:\/\//.test(xaddr) ? { url: xaddr } : {}), ...(user ? { user, password: field(ctx, 'password') ?? '' } : {}) };
        return previewConfigText(app, ctx, JSON.stringify(config, null, 2) + '\n');
      },
    },
  ];
}
