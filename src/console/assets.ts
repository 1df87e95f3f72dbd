/**
 * The console's stylesheet and script, built in: the server reads no file to answer a request, so no route can
 * be turned into a way to fetch something from disk. The script only keeps deadlines counting down (with the
 * server's own deadline-text functions, sent as source), refreshes the upload queue from /api/queue (building rows
 * with textContent, never markup), refreshes a page's live parts from the page the server renders (the session page:
 * its state, and its forms unless someone is typing in them) and reads a chosen certificate file into the form's text
 * field.
 */
import { deadlineText, dueText } from './deadline-text.js';

export const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,"WenQuanYi Micro Hei","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1c2430;background:#f3f5f8}
header{background:#183153;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}
header .brand{font-weight:700;margin-right:1rem}
header a{color:#dce6f5;text-decoration:none;padding:.2rem .35rem;border-radius:3px}
header a.on,header a:hover{background:#2c4f80;color:#fff}
header .right{margin-left:auto;display:flex;gap:.5rem;align-items:center}
header form{margin:0}
main{padding:1rem 1.25rem;max-width:1200px}
h1{font-size:1.35rem;margin:.25rem 0 1rem}
h2{font-size:1.1rem;margin:1.25rem 0 .5rem}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:1rem}
th,td{border:1px solid #d5dbe3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#e8edf3;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td,th{overflow-wrap:break-word}
dd,p,li,.msg,td.long,td.problem{overflow-wrap:anywhere}
td.num,td.nowrap{white-space:nowrap;word-break:normal;overflow-wrap:normal}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #d5dbe3;padding:.5rem;font:13px/1.4 ui-monospace,monospace}
tr.bad td{background:#fdecec}
tr.warn td{background:#fff6e0}
.ok{color:#13722d;font-weight:600}.bad{color:#b3261e;font-weight:600}.warn{color:#8a5a00;font-weight:600}
.msg{padding:.6rem .8rem;border-radius:4px;margin:.5rem 0 1rem;background:#fff;border-left:4px solid #183153}
.msg.error{border-color:#b3261e;background:#fdecec}.msg.success{border-color:#13722d;background:#eaf6ec}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:1rem}
.card{background:#fff;border:1px solid #d5dbe3;border-radius:4px;padding:.75rem 1rem;min-width:0}
.card.wide{grid-column:1/-1}
.card h2{margin-top:0}
dl{display:grid;grid-template-columns:fit-content(40%) minmax(0,1fr);gap:.15rem .75rem;margin:0}dt{color:#51606f}dd{margin:0;min-width:0}
small.sub{display:block;color:#51606f}
textarea{width:100%;font:13px/1.4 ui-monospace,monospace;padding:.5rem}
input[type=text],input[type=password],select{padding:.35rem;font:inherit;min-width:16rem}
button{font:inherit;padding:.35rem .9rem;border:1px solid #183153;background:#183153;color:#fff;border-radius:3px;cursor:pointer}
button.plain{background:#fff;color:#183153}
form.inline{display:inline}
label{display:block;margin:.5rem 0 .2rem}
.box{background:#fff;border:1px solid #d5dbe3;border-radius:4px;padding:1rem;max-width:30rem}
code,.mono{font-family:ui-monospace,monospace;font-size:13px;word-break:break-all}
img.still{max-width:100%;border:1px solid #999;background:#000}
table.officers input{min-width:0;width:100%}
table.officers td.pick{width:4rem;text-align:center}
table.officers th{white-space:nowrap}
.box h2{margin-top:0}
form.box.wide{max-width:44rem}
.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:1rem;margin:1rem 0}
.actions form{margin:0}
p.hint{color:#51606f;margin:.25rem 0 .5rem}
#sess-prompt{font-size:1.1rem}
#session-live{margin-bottom:1rem}
nav.pages{margin:.5rem 0}
footer{margin-top:1.5rem;color:#51606f;font-size:13px}
`;

export const JS = `'use strict';
(function () {
  ${dueText.toString()}
  ${deadlineText.toString()}
  var words = JSON.parse(document.body.getAttribute('data-deadline-words') || 'null');
  function tick() {
    if (!words) return;
    var now = Date.now();
    document.querySelectorAll('[data-deadline]').forEach(function (el) {
      var d = deadlineText(Number(el.getAttribute('data-deadline')), now, words);
      el.textContent = d.text;
      el.className = 'deadline ' + d.level;
    });
  }
  tick();
  setInterval(tick, 1000);

  var POLL = { credentials: 'same-origin', headers: { 'x-console-poll': '1' } };
  function expired(r) {
    if (r.status === 401 || (r.redirected && r.url.indexOf('/login') >= 0)) { location.assign('/login'); return true; }
    return false;
  }

  // Pages with data-poll (the overview) swap in their freshly rendered content; the server escaped it all.
  var main = document.querySelector('main[data-poll]');
  if (main) {
    setInterval(function () {
      fetch(location.pathname, POLL)
        .then(function (r) { return expired(r) || !r.ok ? null : r.text(); })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, 'text/html').querySelector('main');
          var cur = document.querySelector('main');
          if (fresh && cur) cur.replaceWith(fresh);
        })
        .catch(function () {});
    }, Number(main.getAttribute('data-poll')) * 1000);
  }

  // Pages with data-live-url (the session page) swap in each fresh [data-live] part, the server's own rendering, unless
  // someone is working in it: a form being filled in keeps what was typed (PINs included) until it is sent.
  var live = document.querySelector('main[data-live-url]');
  if (live) {
    var touched = function (el) {
      if (el.contains(document.activeElement) && document.activeElement !== el) return true;
      return Array.prototype.some.call(el.querySelectorAll('input, textarea, select'), function (f) {
        if (f.type === 'hidden') return false;
        if (f.type === 'checkbox' || f.type === 'radio') return f.checked !== f.defaultChecked;
        if (f.tagName === 'SELECT') {
          var d = 0;
          for (var i = 0; i < f.options.length; i++) if (f.options[i].defaultSelected) d = i;
          return f.selectedIndex !== d;
        }
        return f.value !== f.defaultValue;
      });
    };
    setInterval(function () {
      fetch(live.getAttribute('data-live-url'), POLL)
        .then(function (r) { return expired(r) || !r.ok ? null : r.text(); })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, 'text/html');
          document.querySelectorAll('[data-live]').forEach(function (cur) {
            var next = cur.id && fresh.getElementById(cur.id);
            if (!next || next.outerHTML === cur.outerHTML || touched(cur)) return;
            // A form refilled after a refusal stays until the state it was made for changes.
            if (cur.hasAttribute('data-kept') && cur.getAttribute('data-state') === next.getAttribute('data-state')) return;
            cur.replaceWith(document.importNode(next, true));
          });
          tick();
        })
        .catch(function () {});
    }, Number(live.getAttribute('data-live-seconds')) * 1000);
  }

  var body = document.getElementById('queue-rows');
  if (body) {
    var poll = function () {
      fetch('/api/queue', POLL)
        .then(function (r) { return expired(r) || !r.ok ? null : r.json(); })
        .then(function (q) {
          if (!q || !q.items) return;
          var rows = document.createDocumentFragment();
          q.items.forEach(function (it) {
            var tr = document.createElement('tr');
            var a = document.createElement('td'); a.textContent = it.name; a.className = 'mono';
            var b = document.createElement('td'); b.textContent = String(it.size); b.className = 'num';
            var c = document.createElement('td'); var d = document.createElement('span'); d.setAttribute('data-deadline', String(it.deadlineMs));
            c.appendChild(d);
            tr.appendChild(a); tr.appendChild(b); tr.appendChild(c);
            rows.appendChild(tr);
          });
          body.replaceChildren(rows);
          var n = document.getElementById('queue-count');
          if (n) n.textContent = String(q.summary.files);
          tick();
        })
        .catch(function () {});
    };
    setInterval(poll, 2000);
  }

  document.querySelectorAll('input[type=file][data-fill]').forEach(function (input) {
    input.addEventListener('change', function () {
      var f = input.files && input.files[0];
      var target = document.getElementById(input.getAttribute('data-fill'));
      if (!f || !target) return;
      var rd = new FileReader();
      rd.onload = function () { target.value = String(rd.result); };
      rd.readAsText(f);
    });
  });
})();
`;
