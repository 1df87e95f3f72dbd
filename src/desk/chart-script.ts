/**
 * The script of the statistics page's charts, served as /assets/desk-charts.js (the CSP allows script from this
 * origin only, never inline): it reads the figures from the JSON endpoint each chart container names (data-src) and
 * draws them with ECharts (/assets/echarts.min.js, from node_modules). Labels come translated from the endpoint; the
 * container's data-ready says when it is drawn (for tests and screen readers alike its table stays on the page).
 */
export const DESK_CHARTS_JS = `'use strict';
(function () {
  var box = document.getElementById('charts');
  if (!box || typeof echarts === 'undefined') return;
  var L = JSON.parse(box.getAttribute('data-labels') || '{}');
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    echarts.init(el, null, { renderer: 'canvas' }).setOption(Object.assign({ animation: false, tooltip: { trigger: 'axis' }, grid: { containLabel: true, left: 10, right: 30, bottom: 34, top: 40 }, legend: { bottom: 0 } }, option));
    el.setAttribute('data-ready', '1');
  }
  fetch(box.getAttribute('data-src'), { credentials: 'same-origin', headers: { accept: 'application/json' } })
    .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
    .then(function (d) {
      // Sessions and recorded hours per matter, officer, device and unit: one bar chart each.
      [['chart-matter', d.byMatter], ['chart-officer', d.byOfficer], ['chart-device', d.byDevice], ['chart-unit', d.byUnit]].forEach(function (c) {
        var rows = c[1];
        chart(c[0], {
          legend: { bottom: 0, data: [L.sessions, L.hours] },
          xAxis: { type: 'category', data: rows.map(function (m) { return m.label; }), axisLabel: { interval: 0, rotate: rows.length > 2 ? 30 : 0 } },
          yAxis: [{ type: 'value', name: L.sessions, minInterval: 1 }, { type: 'value', name: L.hours }],
          series: [
            { name: L.sessions, type: 'bar', data: rows.map(function (m) { return m.sessions; }) },
            { name: L.hours, type: 'bar', yAxisIndex: 1, data: rows.map(function (m) { return m.hours; }) }
          ]
        });
      });
      chart('chart-reasons', {
        tooltip: { trigger: 'item' },
        series: [{ name: L.reasons, type: 'pie', radius: '60%', data: d.byReason.map(function (r) { return { name: r.label, value: r.count }; }) }]
      });
      chart('chart-uploads', {
        tooltip: { trigger: 'item' },
        series: [{ name: L.uploads, type: 'pie', radius: ['35%', '60%'], color: ['#3b9c5a', '#d9534f'], data: [{ name: L.onTime, value: d.uploads.onTime }, { name: L.late, value: d.uploads.late }] }]
      });
      chart('chart-series', {
        legend: { bottom: 0, data: [L.sessions, L.hours, L.onTime, L.late] },
        xAxis: { type: 'category', data: d.series.map(function (b) { return b.bucket; }) },
        yAxis: [{ type: 'value', minInterval: 1 }, { type: 'value', name: L.hours }],
        series: [
          { name: L.sessions, type: 'bar', data: d.series.map(function (b) { return b.sessions; }) },
          { name: L.hours, type: 'line', yAxisIndex: 1, data: d.series.map(function (b) { return b.hours; }) },
          { name: L.onTime, type: 'bar', stack: 'up', data: d.series.map(function (b) { return b.onTime; }) },
          { name: L.late, type: 'bar', stack: 'up', data: d.series.map(function (b) { return b.late; }) }
        ]
      });
      box.setAttribute('data-ready', '1');
    })
    .catch(function (e) { box.setAttribute('data-error', String(e && e.message)); });
})();
`;
