/**
 * One timeline per source, as SVG drawn on the server (no script; the playback page adds a playhead with its own): footage green, gaps red (unexplained) or amber
 * (explained by an interruption), interruptions as a grey bar under them. Positions are in a 1000-wide view box that
 * the stylesheet stretches to the page; each shape carries a <title> a mouse shows. SVG attributes, not style
 * attributes, so the CSP (no inline style) allows it.
 */
import { h, type Html } from '../../console/html.js';
import type { SessionDetail } from '../../index/search.js';
import { clock, span, type View } from '../view.js';

const W = 1000;

/** The span the timelines draw, ms since epoch: the session's start to the last thing in it (an open one: to now, at most a day). */
export function timelineSpan(d: SessionDetail, now: number): { from: number; to: number } {
  const s = d.session;
  const ends = [s.end ?? 0, ...d.segments.map((g) => g.end), ...d.gaps.map((g) => g.end), ...d.interruptions.map((i) => i.end ?? 0)];
  return { from: s.start, to: Math.max(s.start + 1000, ...ends, s.end === null ? Math.min(now, s.start + 86400_000) : 0) };
}

export function timelines(v: View, d: SessionDetail, now: number): Html {
  const { from, to } = timelineSpan(d, now);
  const x = (t: number): number => Math.round(((Math.min(Math.max(t, from), to) - from) / (to - from)) * W * 10) / 10;
  const w = (a: number, b: number): number => Math.max(0.5, x(b) - x(a));
  const sources = [...new Set([...d.segments.map((g) => g.source), ...d.gaps.map((g) => g.source)])].sort();
  const intrText = (i: SessionDetail['interruptions'][number]): string => `${i.zh ?? i.reason} ${clock(v, i.start)} – ${i.end === null ? v.t('intr.open') : clock(v, i.end)}`;
  const lines = sources.map((src) => {
    const segs = d.segments
      .filter((g) => g.source === src)
      .map((g) => h`<rect class="seg" x="${x(g.start)}" y="0" width="${w(g.start, g.end)}" height="22"><title>#${g.seq} ${clock(v, g.start)} – ${clock(v, g.end)} (${span(v, g.end - g.start)})</title></rect>`);
    const gaps = d.gaps
      .filter((g) => g.source === src)
      .map((g) => h`<rect class="gap${g.explained ? ' explained' : ''}" x="${x(g.start)}" y="0" width="${w(g.start, g.end)}" height="22"><title>${clock(v, g.start)} – ${clock(v, g.end)}${g.reason ? ` ${g.reason}` : ''}</title></rect>`);
    const intr = d.interruptions
      .filter((i) => i.sources === null || i.sources.includes(src))
      .map((i) => h`<rect class="intr" x="${x(i.start)}" y="24" width="${w(i.start, i.end ?? to)}" height="8"><title>${intrText(i)}</title></rect>`);
    const kind = d.segments.find((g) => g.source === src)?.kind;
    return h`<div class="timeline" data-source="${src}"><div>${src}${kind === 'camera' || kind === 'microphone' ? `（${v.t(`kind.${kind}`)}）` : ''}</div>
      <svg viewBox="0 0 ${W} 34" preserveAspectRatio="none" role="img" aria-label="${src}">${segs}${gaps}${intr}</svg>
      <div class="axis"><span>${clock(v, from)}</span><span>${clock(v, to)}</span></div></div>`;
  });
  // data-from/data-to: the span in ms, for the playback page's script to map a click to a time.
  return h`<p class="legend">${v.t('session.legend')}</p><div class="timelines" data-from="${from}" data-to="${to}">${lines}</div>`;
}
