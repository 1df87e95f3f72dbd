/**
 * The overview's card of devices around the gateway (control panel, UPS, PTZ heads, IP cameras over ONVIF), one
 * line of words each, from the status the gateway reports (src/app/serial-devices.ts, src/app/onvif-cameras.ts).
 * The status parts are typed loosely there (they pass through `recgw status`), so every member is read defensively.
 */
import { h, type Html } from './html.js';
import type { Ctx } from './route.js';
import type { ConsoleStatus } from './deps.js';
import type { Key } from './i18n.js';
import { when } from './times.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const sep = (ctx: Ctx): string => (ctx.lang === 'en' ? '; ' : '；');

/** A device's English detail (a driver's or the OS's words), labelled and set apart. */
const technical = (ctx: Ctx, text: unknown): Html | '' => (text ? h`<small class="sub mono">${ctx.t('dev.technical')}${str(text)}</small>` : '');

/** A serial port: connected since when, or since when not and how often it was tried. */
function port(ctx: Ctx, p: Obj | undefined): string {
  if (!p) return '';
  const vars = { path: str(p.path), since: when(ctx, str(p.since)), failures: str(p.failures) };
  return ctx.t(p.connected === true ? 'dev.portUp' : 'dev.portDown', vars);
}

function row(ctx: Ctx, name: string, parts: string[], detail?: unknown): Html {
  return h`<dt>${name}</dt><dd>${parts.filter(Boolean).join(sep(ctx))}${technical(ctx, detail)}</dd>`;
}

function panel(ctx: Ctx, p: Obj): Html {
  const hello = obj(p.panel);
  const pt = obj(p.port);
  return row(ctx, ctx.t('dev.panel'), [port(ctx, pt), hello ? ctx.t('dev.panelModel', { model: str(hello.model), firmware: str(hello.firmware) }) : ''], pt?.connected === true ? undefined : pt?.lastError);
}

function ups(ctx: Ctx, u: Obj): Html {
  const r = obj(u.reading);
  const pt = obj(u.port);
  const reading = r
    ? ctx.t('dev.upsReading', { percent: str(r.percent), power: ctx.t(r.onMains === true ? 'dev.onMains' : 'dev.onBattery'), at: when(ctx, str(r.at)) }) +
      (typeof r.minutesLeft === 'number' ? `${sep(ctx)}${ctx.t('dev.minutesLeft', { minutes: r.minutesLeft })}` : '')
    : '';
  const risk = u.risk === 'critical' ? ctx.t('dev.riskCritical') : u.risk === 'warning' ? ctx.t('dev.riskWarning') : '';
  return row(ctx, ctx.t('dev.ups'), [port(ctx, pt), reading, u.stale === true ? ctx.t('dev.upsStale') : '', risk], pt?.connected === true ? undefined : pt?.lastError);
}

function ptz(ctx: Ctx, p: Obj): Html[] {
  const cams = Array.isArray(p.cameras) ? p.cameras.map(obj).filter((c): c is Obj => !!c) : [];
  return cams.map((c) => {
    const power = `ptz.${str(c.power)}`;
    const preset = obj(c.lastPreset);
    const parts = [
      ctx.t(c.connected === true ? 'dev.linked' : 'dev.unlinked', { path: str(c.path) }),
      ctx.t('dev.ptzPower', { power: ctx.t((['ptz.on', 'ptz.off', 'ptz.fault', 'ptz.no-reply'].includes(power) ? power : 'ptz.unknown') as Key) }),
      preset ? ctx.t('dev.ptzPreset', { preset: str(preset.preset), result: ctx.t(preset.ok === true ? 'dev.presetOk' : 'dev.presetFailed'), at: when(ctx, str(preset.at)) }) : '',
    ];
    return row(ctx, ctx.t('dev.ptz', { source: str(c.source), address: str(c.address) }), parts, c.portError ?? c.lastError);
  });
}

function onvif(ctx: Ctx, cams: Obj): Html[] {
  return Object.entries(cams).map(([id, v]) => {
    const c = obj(v) ?? {};
    const parts = [
      typeof c.clockOffsetMs === 'number' ? ctx.t('dev.onvifClock', { ms: c.clockOffsetMs, at: when(ctx, str(c.clockSetAt)) }) : '',
      typeof c.overlay === 'string' && ['set', 'unsupported', 'off', 'failed'].includes(c.overlay) ? ctx.t(`osd.${c.overlay}` as Key) : '',
      typeof c.gopSeconds === 'number' ? ctx.t('dev.gop', { seconds: c.gopSeconds }) : '',
    ];
    return row(ctx, ctx.t('dev.onvif', { source: id }), parts, c.error);
  });
}

/** The devices card, or nothing when the gateway has none of them. */
export function devicesCard(ctx: Ctx, st: ConsoleStatus): Html {
  const rows: Html[] = [];
  const p = obj(st.panel);
  if (p) rows.push(panel(ctx, p));
  const u = obj(st.ups);
  if (u) rows.push(ups(ctx, u));
  const z = obj(st.ptz);
  if (z) rows.push(...ptz(ctx, z));
  const o = obj(st.onvif);
  if (o) rows.push(...onvif(ctx, o));
  if (rows.length === 0) return h``;
  return h`<div class="card wide" id="devices"><h2>${ctx.t('ov.devices')}</h2><dl>${rows}</dl></div>`;
}
