/**
 * A session's GPS track on its page: where the gateway was as it sealed each segment (the manifests' fixes), drawn
 * by ECharts (/assets/desk-track.js, served locally like the statistics' charts) as a line over longitude and
 * latitude with the start and the end marked and their times — no map tiles, since agencies run offline and the desk
 * fetches nothing from elsewhere. The points stay on the page as a table (times in the desk's zone), so the figures
 * can be read and checked without the drawing.
 */
import { h, type Html } from '../../console/html.js';
import type { SessionDetail } from '../../index/search.js';
import { clock, zoneHead, type View } from '../view.js';

/** Great-circle distance in metres (haversine, mean Earth radius): the length the page states. */
export function metres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.min(1, Math.sqrt(x)));
}

export function trackSection(v: View, d: SessionDetail): Html {
  const { t } = v;
  const pts = d.track;
  if (pts.length === 0) return h`<p id="no-track">${t('track.none')}</p>`;
  const length = pts.reduce((n, p, i) => (i === 0 ? 0 : n + metres(pts[i - 1]!, p)), 0);
  const data = JSON.stringify(pts.map((p) => [p.lon, p.lat, clock(v, p.at)]));
  const labels = JSON.stringify({ start: t('track.start'), end: t('track.end'), track: t('track.title'), lon: t('track.lon'), lat: t('track.lat') });
  const rows = pts.map((p, i) => h`<tr><td>${i + 1}</td><td>${clock(v, p.at)}</td><td data-v="${p.lat}">${p.lat.toFixed(6)}</td><td data-v="${p.lon}">${p.lon.toFixed(6)}</td></tr>`);
  return h`<p class="legend" id="track-note">${t('track.note', { n: pts.length, km: (length / 1000).toFixed(2) })}</p>
    <section id="track" data-points="${data}" data-labels="${labels}"><div class="chart" id="chart-track"></div></section>
    <table id="track-points"><thead><tr><th>${t('col.seq')}</th><th>${t('track.at', { zone: zoneHead(v) })}</th><th>${t('track.lat')}</th><th>${t('track.lon')}</th></tr></thead><tbody>${rows}</tbody></table>
    <script src="/assets/echarts.min.js"></script><script src="/assets/desk-track.js"></script>`;
}
