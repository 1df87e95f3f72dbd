/** The overview (the gateway's status at a glance) and the self-test (pre-flight, each check shown). */
import { h, type Html } from '../html.js';
import type { Ctx, Reply, Route } from '../route.js';
import type { App } from '../app.js';
import type { ConsoleStatus } from '../deps.js';
import type { CheckResult } from '../../recorder/preflight.js';
import type { Key } from '../i18n.js';
import { csrfField } from './auth.js';
import { readFile } from 'node:fs/promises';
import { clockSourceByCode } from '../../evidence/vocabulary.js';
import { clock, deadline, timeHeading, when } from '../times.js';
import { devicesCard } from '../device-view.js';
import { keyNames } from '../config-names.js';

const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;
const yes = (ctx: Ctx, ok: boolean, good: Key = 'word.yes', bad: Key = 'word.no'): Html =>
  h`<span class="${ok ? 'ok' : 'bad'}">${ctx.t(ok ? good : bad)}</span>`;
const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);

function recording(ctx: Ctx, st: ConsoleStatus): Html {
  const s = st.session;
  const state: Key = !s || s.state === 'closed' ? 'rec.idle' : s.state === 'recording' ? 'rec.recording' : 'rec.paused';
  return h`<div class="card"><h2>${ctx.t('ov.recording')}</h2><dl>
<dt>${ctx.t('ov.state')}</dt><dd class="${state === 'rec.paused' ? 'warn' : ''}" id="rec-state">${ctx.t(state)}</dd>
${s ? h`<dt>${ctx.t('ov.case')}</dt><dd>${s.caseRef} · ${s.matterLabel}</dd><dt>${ctx.t('ov.since')}</dt><dd>${when(ctx, s.start)}${s.end ? h` – ${when(ctx, s.end)}` : ''}</dd>` : ''}
<dt>${ctx.t('ov.sealing')}</dt><dd>${st.sealing.pending}</dd>
${st.lackingStatement.length ? h`<dt>${ctx.t('ov.statement')}</dt><dd class="bad">${st.lackingStatement.map((x) => x.caseRef).join(', ')}</dd>` : ''}
</dl></div>`;
}

function sources(ctx: Ctx, st: ConsoleStatus, now: number): Html {
  return h`<h2>${ctx.t('ov.sources')}</h2><table id="sources"><thead><tr><th>${ctx.t('col.source')}</th><th>${ctx.t('col.kind')}</th><th>${ctx.t('col.running')}</th>
<th>${ctx.t('col.producing')}</th><th>${ctx.t('col.picture')}</th><th>${ctx.t('col.restarts')}</th><th>${timeHeading(ctx, ctx.t('col.lastSegment'), now)}</th><th>${ctx.t('col.problem')}</th></tr></thead><tbody>
${st.sources.map(
  (s) => h`<tr class="${s.down ? 'bad' : ''}" data-source="${s.id}"><td>${s.id}</td><td>${ctx.t(s.kind === 'camera' ? 'kind.camera' : 'kind.microphone')}</td>
<td>${yes(ctx, s.running)}</td><td>${s.wanted ? yes(ctx, s.producing) : '–'}</td><td>${picture(ctx, s.picture)}</td><td class="num">${s.restarts}</td>
<td class="nowrap">${clock(ctx, s.lastSegmentEnd, now)}</td><td class="long">${problem(ctx, s, now)}</td></tr>`,
)}</tbody></table>`;
}

const PICTURES: Record<string, Key> = { ok: 'pic.ok', black: 'pic.black', frozen: 'pic.frozen', silent: 'pic.silent' };
const picture = (ctx: Ctx, p: string): Html => h`<span class="${p === 'ok' ? '' : 'bad'}">${Object.hasOwn(PICTURES, p) ? ctx.t(PICTURES[p]!) : p}</span>`;

/** What stopped a source (now, or last time), in words, with ffmpeg's detail and a link to its kept log. */
function problem(ctx: Ctx, s: ConsoleStatus['sources'][number], now: number): Html {
  const o = s.lastOutage;
  if (!o) return h``;
  const link = o.log ? h` <a href="/source-log?source=${encodeURIComponent(s.id)}">${ctx.t('ov.ffmpegLog')}</a>` : '';
  return h`<span class="${s.down ? 'bad' : ''}">${s.down ? '' : h`${ctx.t('ov.lastOutage')} `}${clock(ctx, o.at, now)}${ctx.t('punct.colon')}${o.words}</span><small class="sub mono">${ctx.t('ov.technical')}${o.technical}</small>${link}`;
}

/** The largest part of a kept log the console shows (the newest end of it). */
const LOG_VIEW_BYTES = 64 * 1024;

/** The kept ffmpeg log of a source's last outage: the path comes from the gateway's own status, never the request. */
async function sourceLog(app: App, ctx: Ctx): Promise<Reply> {
  const id = ctx.url.searchParams.get('source') ?? '';
  const st = await app.deps.status.status();
  const o = st.sources.find((x) => x.id === id)?.lastOutage;
  let text: string;
  try {
    if (!o?.log) throw new Error('no log');
    const all = await readFile(o.log);
    text = all.subarray(Math.max(0, all.length - LOG_VIEW_BYTES)).toString('utf8');
  } catch {
    return app.page(ctx, ctx.t('ov.ffmpegLog'), h`<p>${ctx.t('ov.noFfmpegLog', { source: id })}</p>`);
  }
  return app.page(
    ctx,
    `${ctx.t('ov.ffmpegLog')} · ${id}`,
    h`<div class="card"><dl><dt>${ctx.t('ov.lastOutage')}</dt><dd>${when(ctx, o.at)}${ctx.t('punct.colon')}${o.words}</dd><dt>${ctx.t('dev.technical')}</dt><dd class="mono">${o.technical}</dd>
<dt>${ctx.t('ov.logFile')}</dt><dd class="mono">${o.log}</dd></dl></div><pre id="ffmpeg-log">${text}</pre>`,
  );
}

/** Fixes the gpsd client refuses for their time (src/hal/gps/fix-time.ts), while it does. */
export function refusedFixes(ctx: Ctx, r: Record<string, unknown> | undefined): Html | '' {
  if (!r || typeof r.offsetMs !== 'number') return '';
  const seconds = Math.round(Math.abs(r.offsetMs) / 1000).toLocaleString('en');
  const text = ctx.t('ov.fixRefusedDetail', { since: when(ctx, String(r.since)), fixTime: when(ctx, String(r.lastFixTime)), seconds, count: Number(r.fixes) });
  return h`<dt>${ctx.t('ov.fixRefused')}</dt><dd class="bad" id="gps-refused">${text}</dd>`;
}

function health(ctx: Ctx, st: ConsoleStatus, now: number): Html {
  const up = obj(st.uplink);
  const gpsd = obj(st.gpsd);
  const q = obj(up?.queue);
  const alarms = Array.isArray(up?.alarms) ? (up.alarms as unknown[]).length : 0;
  return h`<div class="card"><h2>${ctx.t('ov.storage')}</h2><dl>
<dt>${ctx.t('ov.free')}</dt><dd>${mb(st.storage.freeBytes)}</dd><dt>${ctx.t('ov.used')}</dt><dd>${mb(st.storage.usedBytes)}${st.storage.quotaBytes ? ` / ${mb(st.storage.quotaBytes)}` : ''}</dd>
<dt>${ctx.t('ov.full')}</dt><dd>${st.storage.full ? h`<span class="bad">${ctx.t('word.yes')}</span>` : ctx.t('word.no')}</dd></dl></div>
<div class="card"><h2>${ctx.t('ov.power')}</h2><dl>${
    st.battery
      ? h`<dt>${ctx.t('ov.battery')}</dt><dd>${st.battery.percent}%</dd><dt>${ctx.t('ov.mains')}</dt><dd>${ctx.t(st.battery.onMains ? 'word.yes' : 'word.no')}</dd>`
      : h`<dt>${ctx.t('ov.battery')}</dt><dd>${ctx.t('ov.noBattery')}</dd>`
  }</dl></div>
<div class="card"><h2>${ctx.t('ov.clock')}</h2><dl><dt>${ctx.t('ov.clockSource')}</dt><dd id="clock-source">${clockSource(ctx, st.clock.source)}</dd>
<dt>${ctx.t('ov.synced')}</dt><dd>${yes(ctx, st.clock.synced)}${st.clock.assumed ? h` <span class="warn" id="clock-assumed">${ctx.t('ov.assumed')}</span>` : ''}</dd>${
    st.clock.heldMs !== undefined ? h`<dt>${ctx.t('ov.held')}</dt><dd class="warn" id="clock-held">${ctx.t('ov.heldS', { s: Math.round(st.clock.heldMs / 1000) })}</dd>` : ''
  }${st.clock.offsetMs !== undefined ? h`<dt>${ctx.t('ov.offset')}</dt><dd>${ctx.t('ov.offsetMs', { ms: st.clock.offsetMs })}</dd>` : ''}
<dt>${ctx.t('ov.time')}</dt><dd id="gateway-time">${when(ctx, now)}</dd></dl></div>
<div class="card"><h2>${ctx.t('ov.gps')}</h2><dl>${
    st.gps
      ? h`<dt>${ctx.t('ov.fix')}</dt><dd>${st.gps.lat.toFixed(5)}, ${st.gps.lon.toFixed(5)}（${ctx.t(st.gps.mode >= 3 ? 'ov.fix3d' : 'ov.fix2d')}）</dd><dt>${ctx.t('ov.fixTime')}</dt><dd>${when(ctx, st.gps.time)}</dd>`
      : h`<dt>${ctx.t('ov.fix')}</dt><dd>${ctx.t('ov.noFix')}</dd>`
  }${gpsd ? h`<dt>${ctx.t('ov.gpsd')}</dt><dd>${yes(ctx, gpsd.connected === true, 'word.connected', 'word.disconnected')}</dd>` : ''}${refusedFixes(ctx, obj(obj(gpsd?.fixTime)?.refusing))}</dl></div>
<div class="card"><h2>${ctx.t('ov.broker')}</h2><dl>${
    up
      ? h`<dt>${ctx.t('ov.link')}</dt><dd id="broker-link">${yes(ctx, up.connected === true, 'word.connected', 'word.disconnected')}</dd>
<dt>${ctx.t('ov.brokerUrl')}</dt><dd class="mono">${String(up.broker ?? '')}</dd>
<dt>${ctx.t('ov.waiting')}</dt><dd>${String(q?.files ?? 0)} / ${String(q?.entries ?? 0)}</dd>
<dt>${ctx.t('ov.nextDeadline')}</dt><dd id="next-deadline">${deadline(ctx, typeof up.nextDeadline === 'string' ? up.nextDeadline : null, now)}</dd>
<dt>${ctx.t('ov.alarms')}</dt><dd class="${alarms ? 'bad' : ''}">${alarms}</dd>`
      : h`<dt>${ctx.t('ov.link')}</dt><dd>${ctx.t('ov.noUplink')}</dd>`
  }</dl></div>${devicesCard(ctx, st)}`;
}

/** The clock's source in words ("网络校时（NTP）"); a source this version does not know, as it is. */
function clockSource(ctx: Ctx, code: string): string {
  const c = clockSourceByCode(code);
  return c ? (ctx.lang === 'en' ? c.en : c.zh) : code;
}

function checksTable(ctx: Ctx, checks: CheckResult[]): Html {
  return h`<table id="checks"><thead><tr><th>${ctx.t('col.check')}</th><th>${ctx.t('col.result')}</th><th>${ctx.t('col.detail')}</th></tr></thead><tbody>
${checks.map(
  (c) => h`<tr class="${c.ok ? (c.warning ? 'warn' : '') : 'bad'}" data-check="${c.check}"><td>${ctx.t(`check.${c.check}` as Key)}</td><td>${c.ok && c.warning ? ctx.t('word.warning') : yes(ctx, c.ok, 'word.pass', 'word.fail')}</td><td>${ctx.lang === 'en' || !c.zh ? c.detail : c.zh}</td></tr>`,
)}</tbody></table>`;
}

export function statusRoutes(app: App): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        const st = await app.deps.status.status();
        const now = app.now();
        const pending = st.config?.restartPending ?? [];
        return app.page(
          ctx,
          ctx.t('nav.overview'),
          h`${pending.length ? h`<p class="warn" id="restart-pending" title="${pending.join(', ')}">${ctx.t('ov.restartPending', { keys: keyNames(pending, ctx.lang) })}</p>` : ''}<div class="grid">${recording(ctx, st)}${health(ctx, st, now)}</div>${sources(ctx, st, now)}`,
          { pollSeconds: 5 },
        );
      },
    },
    { method: 'GET', path: '/api/status', access: 'user', api: true, handle: async () => ({ kind: 'json', body: await app.deps.status.status() }) },
    { method: 'GET', path: '/source-log', access: 'user', api: false, handle: (ctx) => sourceLog(app, ctx) },
    {
      method: 'GET',
      path: '/selftest',
      access: 'user',
      api: false,
      handle: (ctx) =>
        app.page(ctx, ctx.t('nav.selftest'), h`<p>${ctx.t('self.intro')}</p><form method="post" action="/selftest">${csrfField(ctx)}<button type="submit" id="run-selftest">${ctx.t('self.run')}</button></form>`),
    },
    {
      method: 'POST',
      path: '/selftest',
      access: 'user',
      api: false,
      handle: async (ctx) => {
        const checks = await app.deps.preflight.preflight();
        app.deps.log.info('console self-test', { user: ctx.user?.name, failed: checks.filter((c) => !c.ok).map((c) => c.check) });
        const ok = checks.every((c) => c.ok);
        return app.page(
          ctx,
          ctx.t('nav.selftest'),
          h`${checksTable(ctx, checks)}<form method="post" action="/selftest">${csrfField(ctx)}<button type="submit" id="run-selftest">${ctx.t('self.again')}</button></form>`,
          { message: { kind: ok ? (checks.some((c) => c.warning) ? 'info' : 'success') : 'error', text: ctx.t(ok ? (checks.some((c) => c.warning) ? 'self.warnings' : 'self.allOk') : 'self.someFailed') } },
        );
      },
    },
    {
      method: 'POST',
      path: '/api/selftest',
      access: 'user',
      api: true,
      handle: async () => ({ kind: 'json', body: { checks: await app.deps.preflight.preflight() } }),
    },
  ];
}
