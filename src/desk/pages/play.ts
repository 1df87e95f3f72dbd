/**
 * The playback page (/access/:id/play/:device/:session; docs/desk.md §6): every source of one session on one
 * timeline (the session page's SVG timelines, gaps and interruptions marked), a picture per camera and a line per
 * microphone, played in sync by /assets/desk-play.js over mpegts.js, a watermark with the viewer's name and the time
 * drawn over the pictures, and seeking by wall-clock time in the desk's zone. What the script needs is in data-
 * attributes (no inline script: the CSP allows none). Download links only when the approval's scope is export.
 */
import { h, type Html } from '../../console/html.js';
import type { SessionDetail } from '../../index/search.js';
import type { ViewRequest } from '../approvals.js';
import { localClock } from '../../util/local-time.js';
import { frame, when, zoneHead, type View } from '../view.js';
import { segmentHref } from './access.js';
import { timelines } from './timeline.js';

/** Where the page fetches a segment's plaintext: under the playback grant, never a download. */
export const streamHref = (grant: string, segment: string): string => `/play/${grant}/${encodeURIComponent(segment)}`;

export function playPage(v: View, r: ViewRequest, d: SessionDetail, grant: string): string {
  const { t } = v;
  const s = d.session;
  const sources = [...new Set(d.segments.map((g) => g.source))].sort();
  const kindOf = (src: string): string => d.segments.find((g) => g.source === src)?.kind ?? 'camera';
  const label = (src: string): string => {
    const k = kindOf(src);
    return k === 'camera' || k === 'microphone' ? `${src}（${t(`kind.${k}`)}）` : src;
  };
  const data = sources.map((src) => ({
    id: src,
    kind: kindOf(src),
    segs: d.segments.filter((g) => g.source === src).map((g) => ({ name: g.name, start: g.start, end: g.end, url: streamHref(grant, g.name) })),
  }));
  const labels = { play: t('play.play'), pause: t('play.pause'), gap: t('play.gapHere'), loading: t('play.loading'), noMse: t('play.noMse'), seekBad: t('play.seekBad'), error: t('play.error') };
  const screens = sources
    .filter((src) => kindOf(src) !== 'microphone')
    .map((src) => h`<figure class="screen" data-source="${src}" data-state="idle"><video playsinline preload="none"></video><figcaption>${label(src)} <span class="src-state"></span></figcaption></figure>`);
  const mics = sources
    .filter((src) => kindOf(src) === 'microphone')
    .map((src) => h`<div class="mic" data-source="${src}" data-state="idle"><audio preload="none"></audio>${label(src)} <span class="src-state"></span></div>`);
  const downloads: Html | string =
    r.scope === 'export'
      ? h`<h2>${t('play.downloads')}</h2><ul id="downloads">${d.segments.map((g) => h`<li><a class="export" href="${segmentHref(r, s.deviceId, g.name, true)}">${g.source} ${localClock(g.start, v.zone)} – ${localClock(g.end, v.zone)}</a></li>`)}</ul>`
      : '';
  const body = h`<p class="legend">${t('play.note')}</p>
    <dl class="facts" id="play-facts"><dt>${t('session.id')}</dt><dd>${s.deviceId}/${s.sessionId}</dd><dt>${t('play.viewer')}</dt><dd id="viewer">${v.user?.name ?? ''}</dd>
      <dt>${t('access.reason')}</dt><dd>${r.reason}</dd><dt>${t('access.decider')}</dt><dd>${r.decider ?? '–'}</dd><dt>${t('access.validUntil')}</dt><dd>${when(v, r.validUntilMs)}</dd></dl>
    <section id="player" data-sources="${JSON.stringify(data)}" data-viewer="${v.user?.name ?? ''}" data-zone="${v.zone}" data-zone-label="${zoneHead(v)}" data-labels="${JSON.stringify(labels)}">
      <div id="stage"><div class="screens">${screens}</div><canvas id="watermark" role="img" aria-label="${t('play.watermark')}"></canvas></div>
      <div class="mics">${mics}</div>
      <div class="controls"><button id="play" type="button">${t('play.play')}</button><span>${t('play.position')}：<output id="position">${localClock(s.start, v.zone)}</output> ${zoneHead(v)}</span>
        <form id="seek"><label>${t('play.seek', { zone: zoneHead(v) })}<input id="seek-time" value="${localClock(s.start, v.zone)}" maxlength="19"></label><button type="submit">${t('play.seekGo')}</button></form>
        <span id="seek-error" class="late" hidden></span></div>
      ${timelines(v, d, v.now)}
    </section>${downloads}
    <script src="/assets/mpegts.js"></script><script src="/assets/desk-play.js"></script>`;
  return frame(v, `${t('play.title')} ${s.sessionId}`, body);
}
