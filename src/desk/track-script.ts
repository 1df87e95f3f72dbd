/**
 * The script of a session page's GPS track, served as /assets/desk-track.js (the CSP allows script from this origin
 * only): reads the points ([lon, lat, time]) from #track's data-points and draws them with ECharts as a line over
 * longitude and latitude, the start and the end marked with their times. The axes get the same metres per pixel each
 * way (a degree of longitude is cos(latitude) of a degree of latitude), so the track's shape is true; no map tiles.
 */
export const DESK_TRACK_JS = `'use strict';
(function () {
  var box = document.getElementById('track');
  var el = document.getElementById('chart-track');
  if (!box || !el || typeof echarts === 'undefined') return;
  var P = JSON.parse(box.getAttribute('data-points') || '[]');
  var L = JSON.parse(box.getAttribute('data-labels') || '{}');
  if (P.length === 0) return;
  var lons = P.map(function (p) { return p[0]; }), lats = P.map(function (p) { return p[1]; });
  var lo = [Math.min.apply(null, lons), Math.max.apply(null, lons)], la = [Math.min.apply(null, lats), Math.max.apply(null, lats)];
  var k = Math.max(0.01, Math.cos(((la[0] + la[1]) / 2) * Math.PI / 180));
  // Half-spans in degrees of latitude, at least about 50 m, widened so that both axes have the box's proportions.
  var w = el.clientWidth || 600, hgt = el.clientHeight || 360;
  var hy = Math.max((la[1] - la[0]) / 2, (lo[1] - lo[0]) * k / 2 * hgt / w, 0.0005) * 1.35;
  var hx = hy * w / hgt / k;
  var cx = (lo[0] + lo[1]) / 2, cy = (la[0] + la[1]) / 2;
  var fmt = function (n) { return n.toFixed(5); };
  var end = function (p, name, color, where) { return { name: name, type: 'scatter', symbolSize: 14, itemStyle: { color: color }, label: { show: true, position: where, formatter: name + ' ' + p[2] }, data: [p], z: 3 }; };
  echarts.init(el, null, { renderer: 'canvas' }).setOption({
    animation: false,
    grid: { containLabel: true, left: 30, right: 20, top: 20, bottom: 50 },
    legend: { bottom: 0 },
    tooltip: { trigger: 'item', formatter: function (x) { return x.value[2] + '<br>' + L.lat + ' ' + fmt(x.value[1]) + '<br>' + L.lon + ' ' + fmt(x.value[0]); } },
    xAxis: { type: 'value', name: L.lon, nameLocation: 'middle', nameGap: 26, min: cx - hx, max: cx + hx, axisLabel: { formatter: fmt } },
    yAxis: { type: 'value', name: L.lat, nameLocation: 'middle', nameGap: 70, min: cy - hy, max: cy + hy, axisLabel: { formatter: fmt } },
    series: [
      { name: L.track, type: 'line', data: P, symbolSize: 6, lineStyle: { width: 3 }, z: 2 },
      end(P[0], L.start, '#3b9c5a', 'top'),
      end(P[P.length - 1], L.end, '#d9534f', 'bottom')
    ]
  });
  el.setAttribute('data-ready', '1');
})();
`;
