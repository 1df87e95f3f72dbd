/**
 * The playback page's script, served as /assets/desk-play.js (the CSP allows script from this origin only): one
 * clock in wall-clock milliseconds drives every source of the session. Each source plays the segment that covers the
 * clock with mpegts.js (/assets/mpegts.js) in its own media element, one player per segment (a segment is a whole
 * MPEG-TS file, its first sample at the element's buffered start), and is moved back in step whenever it drifts more
 * than 0.4 s; where a source has nothing the clock goes on and the source shows the gap. While a source is still
 * loading the segment it needs (at most 5 s), the clock waits for it, so the sources start together.
 *
 * The watermark: a canvas over the pictures, redrawn every second, with the viewer's name and the current time in the
 * desk's zone repeated across it at an angle. If the canvas is removed or hidden, playback stops (this deters a
 * casual stylesheet edit; it does not stop somebody who rewrites the page: docs/desk.md §6 says what it protects).
 *
 * State for tests and screen readers: #player data-pos (the clock) and data-playing; each source's box data-state
 * (idle, loading, playing, paused, gap, error), data-segment (the segment it is on) and data-media-at (the wall-clock
 * time its element shows, ms).
 */
export const DESK_PLAY_JS = `'use strict';
(function () {
  var box = document.getElementById('player');
  if (!box) return;
  var L = JSON.parse(box.getAttribute('data-labels') || '{}');
  var zone = box.getAttribute('data-zone');
  var viewer = box.getAttribute('data-viewer') || '';
  var line = box.querySelector('.timelines');
  var from = Number(line.getAttribute('data-from')), to = Number(line.getAttribute('data-to'));
  var stage = document.getElementById('stage'), mark = document.getElementById('watermark');
  var playBtn = document.getElementById('play'), out = document.getElementById('position');
  var fmt = new Intl.DateTimeFormat('en-CA', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  function parts(ms) { var p = {}; fmt.formatToParts(ms).forEach(function (x) { p[x.type] = x.value; }); return p; }
  function local(ms) { var p = parts(ms); return p.year + '-' + p.month + '-' + p.day + ' ' + p.hour + ':' + p.minute + ':' + p.second; }
  // The zone's offset at an instant, and a local time in the zone back to an instant (twice, for a change of offset).
  function offsetAt(ms) { var p = parts(ms); return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000; }
  function fromLocal(y, mo, d, hh, mi, ss) { var g = Date.UTC(y, mo - 1, d, hh, mi, ss); return g - offsetAt(g - offsetAt(g)); }

  var pos = from, playing = false, last = performance.now();
  var sources = JSON.parse(box.getAttribute('data-sources') || '[]').map(function (s) {
    var el = box.querySelector('[data-source="' + s.id + '"]');
    return { id: s.id, segs: s.segs, box: el, media: el.querySelector('video, audio'), state: el.querySelector('.src-state'), player: null, seg: null, since: 0, base: null };
  });
  var usable = typeof mpegts !== 'undefined' && mpegts.getFeatureList().mseLivePlayback;
  if (!usable) { playBtn.disabled = true; out.textContent = L.noMse; }

  function setState(s, st, text) { if (s.box.getAttribute('data-state') !== st) { s.box.setAttribute('data-state', st); s.state.textContent = text || ''; } }
  function segAt(s, t) { for (var i = 0; i < s.segs.length; i++) if (t >= s.segs[i].start && t < s.segs[i].end) return s.segs[i]; return null; }
  function unload(s) {
    if (!s.player) return;
    try { s.player.pause(); s.player.unload(); s.player.detachMediaElement(); s.player.destroy(); } catch (e) { /* already gone */ }
    s.player = null; s.seg = null; s.base = null;
  }
  function load(s, seg) {
    unload(s);
    var p = mpegts.createPlayer({ type: 'mpegts', isLive: false, url: seg.url }, { enableWorker: false, enableStashBuffer: false, lazyLoad: false, autoCleanupSourceBuffer: true });
    // A refusal (the approval expired, the desk restarted) or a file that fails its check: said on the source.
    p.on(mpegts.Events.ERROR, function (type, detail, info) { setState(s, 'error', L.error + (info && info.code ? ' (HTTP ' + info.code + ')' : ' (' + detail + ')')); });
    p.attachMediaElement(s.media);
    p.load();
    s.player = p; s.seg = seg; s.since = performance.now();
    s.box.setAttribute('data-segment', seg.name);
    setState(s, 'loading', L.loading);
  }
  function loading(s) { return s.seg && s.media.readyState < 3 && performance.now() - s.since < 5000 && s.box.getAttribute('data-state') !== 'error'; }
  function sync(s) {
    var seg = segAt(s, pos);
    if (!seg) { unload(s); s.box.removeAttribute('data-segment'); setState(s, 'gap', L.gap); return; }
    if (s.seg !== seg) load(s, seg);
    var m = s.media;
    if (m.readyState < 1 || m.buffered.length === 0) return;
    if (s.base === null) s.base = m.buffered.start(0);
    var want = s.base + (pos - seg.start) / 1000;
    if (Math.abs(m.currentTime - want) > 0.4) m.currentTime = want;
    s.box.setAttribute('data-media-at', String(Math.round(seg.start + (m.currentTime - s.base) * 1000)));
    if (playing && m.paused) m.play().catch(function () { /* the next tick tries again */ });
    if (!playing && !m.paused) m.pause();
    // Paused, a frame (or the sound's position) at hand is all there is to wait for.
    if (m.readyState >= 3 || (!playing && m.readyState >= 2)) setState(s, playing ? 'playing' : 'paused', '');
  }
  function watermark() {
    var w = stage.clientWidth, hgt = stage.clientHeight, r = window.devicePixelRatio || 1;
    if (mark.width !== Math.round(w * r) || mark.height !== Math.round(hgt * r)) { mark.width = Math.round(w * r); mark.height = Math.round(hgt * r); }
    var c = mark.getContext('2d');
    var text = viewer + '  ' + local(Date.now());
    mark.setAttribute('data-text', text);
    c.setTransform(r, 0, 0, r, 0, 0);
    c.clearRect(0, 0, w, hgt);
    c.font = 'bold 18px "Noto Sans CJK SC", sans-serif';
    c.lineWidth = 3;
    c.strokeStyle = 'rgba(0,0,0,0.35)';
    c.fillStyle = 'rgba(255,255,255,0.45)';
    c.translate(w / 2, hgt / 2);
    c.rotate(-Math.PI / 9);
    var step = c.measureText(text).width + 60, diag = Math.sqrt(w * w + hgt * hgt);
    for (var y = -diag / 2, row = 0; y < diag / 2; y += 70, row++) {
      for (var x = -diag / 2 - (row % 2) * step / 2; x < diag / 2; x += step) { c.strokeText(text, x, y); c.fillText(text, x, y); }
    }
  }
  function markIntact() {
    var cs = getComputedStyle(mark);
    return mark.isConnected && mark.parentNode === stage && cs.display !== 'none' && cs.visibility === 'visible' && Number(cs.opacity) > 0.5;
  }
  function setPlaying(p) {
    playing = p;
    box.setAttribute('data-playing', p ? '1' : '0');
    playBtn.textContent = p ? L.pause : L.play;
  }
  // A seek within the segment a source is on moves its element (sync does); to another one loads that.
  function seek(t) { pos = Math.max(from, Math.min(to, t)); tick(); }
  var heads = [];
  line.querySelectorAll('.timeline svg').forEach(function (svg) {
    var head = document.createElement('div');
    head.className = 'playhead';
    svg.parentNode.insertBefore(head, svg.nextSibling);
    heads.push(head);
    svg.addEventListener('click', function (e) { var b = svg.getBoundingClientRect(); seek(from + ((e.clientX - b.left) / b.width) * (to - from)); });
  });
  var lastMark = 0;
  function tick() {
    var now = performance.now(), dt = now - last;
    last = now;
    if (playing && !markIntact()) setPlaying(false);
    if (playing && !sources.some(loading)) pos += dt;
    if (pos >= to) { pos = to; setPlaying(false); }
    if (usable) sources.forEach(sync);
    box.setAttribute('data-pos', String(Math.round(pos)));
    out.textContent = local(pos);
    heads.forEach(function (hd) { hd.style.top = hd.previousSibling.offsetTop + 'px'; hd.style.left = (((pos - from) / (to - from)) * 100).toFixed(3) + '%'; });
    if (now - lastMark > 1000) { lastMark = now; watermark(); }
  }
  playBtn.addEventListener('click', function () { setPlaying(!playing); if (pos >= to) pos = from; tick(); });
  document.getElementById('seek').addEventListener('submit', function (e) {
    e.preventDefault();
    var v = document.getElementById('seek-time').value.trim(), err = document.getElementById('seek-error');
    var m = /^(?:(\\d{4})-(\\d{2})-(\\d{2})\\s+)?(\\d{1,2}):(\\d{2}):(\\d{2})$/.exec(v);
    var p = parts(pos);
    var t = m ? fromLocal(m[1] ? +m[1] : +p.year, m[1] ? +m[2] : +p.month, m[1] ? +m[3] : +p.day, +m[4], +m[5], +m[6]) : NaN;
    if (!(t >= from && t <= to)) { err.textContent = L.seekBad; err.hidden = false; return; }
    err.hidden = true;
    seek(t);
  });
  window.addEventListener('resize', watermark);
  watermark();
  setPlaying(false);
  tick();
  setInterval(tick, 100);
})();
`;
