// The evidence desk's search over the agency index at province scale: a synthetic index of N sessions
// (RECGW_BENCH_SESSIONS, default 1,000,000; 1,000 devices, 5,000 officers, two officers a session, starts over three
// years) in PostgreSQL, filled through the index's own multi-row inserts (src/index/bulk.ts) into the schema its
// migrations make, then a mix of desk searches (src/index/search.ts: first pages and keyset next pages by officer
// badge and name, device, matter and month, case reference, part of a party's or a place's name, a week) timed one
// after another. Prints the p95 of the searches against the p95 of a plain primary-key lookup of a session in the
// same database and run (lower is better: the ratio is how many lookups' time a search costs). The issue's goal is a
// p95 of 200 ms or less.
// On PostgreSQL and on SQLite (the desk takes either; RECGW_BENCH_INDEX_DBS, default "postgres,sqlite"). Each index
// is filled once and kept under .bench/index-search/ (a PostgreSQL cluster started with initdb there on a free port,
// src/demo/throwaway-postgres.ts with `keep`, and an SQLite file), keyed by N; later runs apply any new migration to
// the kept index and only search. RECGW_BENCH_DATABASE (a postgres:// URL of an empty database) instead of the kept
// cluster: filled every run.
import { createServer } from 'node:net';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { progress, report } from './lib.js';
import { startThrowawayPostgres } from '../dist/demo/throwaway-postgres.js';
import { openIndexDb } from '../dist/index/database.js';
import { migrateIndex } from '../dist/index/migrate.js';
import { insertRows } from '../dist/index/bulk.js';
import { COLUMNS } from '../dist/index/device-rows.js';
import { searchSessions } from '../dist/index/search.js';

const N = Number(process.env.RECGW_BENCH_SESSIONS ?? 1_000_000);
const BACKENDS = (process.env.RECGW_BENCH_INDEX_DBS ?? 'postgres,sqlite').split(',').filter(Boolean);
/** Bump when sessionRows changes what it writes: older kept indexes are then not used. */
const FORMAT = 1; // sessions rows with unexplained_resumes (0)
const CACHE = join(dirname(fileURLToPath(import.meta.url)), '..', '.bench', 'index-search', `f${FORMAT}`);
const FILL_SEED = 20261207;
const SEARCH_SEED = 20261208;
const DEVICES = 1000;
const OFFICERS = 5000;
const PARTIES = 100_000;
const SEARCHES = 40; // of each kind
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const SPAN = 3 * 365 * DAY;
const MATTERS = ['site-inspection', 'sampling', 'hearing', 'preservation', 'seizure', 'verification', 'dispute', 'service', 'rectification', 'other'];
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红建国文辉鹏飞斌宇浩凯健俊帆帅旭宁龙林欣雪琳晨阳佳';
const TRADES = ['食品', '餐饮', '运输', '建材', '药业', '科技', '商贸', '物流', '酒店', '超市', '服装', '五金', '家具', '汽修', '印刷'];
const PLACES = ['询问室', '听证室', '执法车', '仓库', '门店', '后厨', '车间', '办公室', '停车场', '码头'];

// A fixed-seed generator (mulberry32), so every run fills the same index and runs the same searches.
let seed = FILL_SEED;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (s) => s[Math.floor(rnd() * s.length)];
const officer = (i) => ({ badge: `1301${String(i).padStart(4, '0')}`, name: `${SURNAMES[i % SURNAMES.length]}${GIVEN[(i * 7) % GIVEN.length]}${i >= 2000 ? GIVEN[(i * 13) % GIVEN.length] : ''}` });
const party = (i) => `${SURNAMES[i % SURNAMES.length]}${GIVEN[(i * 3) % GIVEN.length]}${GIVEN[(i * 11) % GIVEN.length]}${i % 97}号${pick(TRADES)}有限公司`;
const place = (d) => `${['朝阳', '海淀', '丰台', '通州', '顺义'][d % 5]}${PLACES[d % PLACES.length]}${d}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function sessionRows(from, to) {
  const sessions = [];
  const officers = [];
  for (let i = from; i < to; i++) {
    const device = `gw-${String(i % DEVICES).padStart(4, '0')}`;
    const id = `S-${String(i).padStart(7, '0')}`;
    const start = T0 + Math.floor(rnd() * SPAN);
    const a = Math.floor(rnd() * OFFICERS);
    const b = (a + 1 + Math.floor(rnd() * (OFFICERS - 1))) % OFFICERS;
    const os = [officer(a), officer(b)];
    const minutes = 10 + Math.floor(rnd() * 170);
    sessions.push([
      device, id, i, pick(MATTERS), `京朝市监罚〔${new Date(start).getUTCFullYear()}〕${i}号`, party(Math.floor(rnd() * PARTIES)), place(i % DEVICES), start,
      start + minutes * 60_000, 'stopped', JSON.stringify(os), '["cam1","mic1"]', minutes * 60_000, 'camera', Math.floor(minutes / 5), 0, 0, 0, 0, 0, 0, 0,
    ]);
    for (const o of os) officers.push([o.badge, 'badge', start, device, id], [o.name, 'name', start, device, id]);
  }
  return { sessions, officers };
}

/**
 * A bulk load, as a DBA would make one: the secondary indexes the migrations made (their definitions read back from
 * pg_indexes, so the searched schema stays the migrations') are dropped for the fill and built again after it.
 */
async function fill(db) {
  seed = FILL_SEED;
  const pgsql = db.dialect === 'postgres';
  const indexes = pgsql
    ? await db.query(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('sessions', 'session_officers') AND indexname NOT LIKE '%_pkey'`)
    : await db.query(`SELECT name AS indexname, sql AS indexdef FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('sessions', 'session_officers') AND sql IS NOT NULL`);
  for (const i of indexes) await db.exec(`DROP INDEX ${i.indexname}`);
  const seconds = await insertAll(db);
  const t = Date.now();
  if (pgsql) await db.exec('SET maintenance_work_mem = \'512MB\'');
  for (const i of indexes) {
    await db.exec(i.indexdef);
    progress(`built ${i.indexname} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
  }
  return { seconds, indexSeconds: (Date.now() - t) / 1000 };
}

async function insertAll(db) {
  const batch = 20_000;
  const t0 = Date.now();
  let last = t0;
  // Two writers: PostgreSQL does the work in one backend per connection, and the machine has two cores.
  let next = 0;
  let written = 0;
  const writer = async () => {
    while (next < N) {
      const from = next;
      next = Math.min(N, next + batch);
      const to = next;
      const { sessions, officers } = sessionRows(from, to);
      await db.transaction(async (tx) => {
        await insertRows(tx, 'sessions', COLUMNS.sessions, sessions);
        await insertRows(tx, 'session_officers', COLUMNS.session_officers, officers);
      });
      written += to - from;
      if (Date.now() - last > 5000 || written === N) {
        last = Date.now();
        progress(`filled ${written.toLocaleString('en')} of ${N.toLocaleString('en')} sessions (${Math.round(written / ((last - t0) / 1000)).toLocaleString('en')} sessions/s)`);
      }
    }
  };
  await Promise.all([writer(), writer()]);
  return (Date.now() - t0) / 1000;
}

const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1];

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/**
 * The index on `backend`, filled unless kept: { db, fresh, stop }. A kept index is marked complete only after its
 * fill and ANALYZE, so a run cut short fills again.
 */
async function openBackend(backend) {
  const label = N >= 1e6 ? `${N / 1e6}M` : `${N / 1e3}k`;
  let url;
  let server;
  let marker;
  if (backend === 'postgres' && process.env.RECGW_BENCH_DATABASE) {
    url = process.env.RECGW_BENCH_DATABASE;
  } else if (backend === 'postgres') {
    const dir = join(CACHE, `pg-${label}`);
    marker = `${dir}.complete`;
    if (!existsSync(marker)) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    server = await startThrowawayPostgres({ dir, port: await freePort(), keep: true });
    url = server.url;
    progress(`PostgreSQL at ${url}, cluster in ${dir}${existsSync(marker) ? ' (kept)' : ''}`);
  } else if (backend === 'sqlite') {
    const file = join(CACHE, `sqlite-${label}.db`);
    marker = `${file}.complete`;
    mkdirSync(CACHE, { recursive: true });
    if (!existsSync(marker)) for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    url = `sqlite:${file}`;
    progress(`SQLite index ${file}${existsSync(marker) ? ' (kept)' : ''}`);
  } else {
    throw new Error(`unknown index backend ${backend}: postgres or sqlite`);
  }
  const db = await openIndexDb(url);
  const t = Date.now();
  await migrateIndex(db);
  const tookMigrating = (Date.now() - t) / 1000;
  if (tookMigrating > 1) progress(`migrations: ${tookMigrating.toFixed(1)} s`);
  const [{ n }] = await db.query('SELECT COUNT(*) AS n FROM sessions');
  const fresh = marker === undefined || !existsSync(marker);
  if (fresh) {
    if (Number(n) !== 0) throw new Error(`the benchmark fills an empty index; ${url} already holds ${n} sessions`);
    const { seconds, indexSeconds } = await fill(db);
    progress(`fill: ${N.toLocaleString('en')} sessions and ${(4 * N).toLocaleString('en')} officer rows (badge and name of two officers) in ${seconds.toFixed(1)} s, indexes in ${indexSeconds.toFixed(1)} s`);
    const t = Date.now();
    for (const t of ['sessions', 'session_officers']) await db.exec(db.dialect === 'postgres' ? `VACUUM ANALYZE ${t}` : `ANALYZE ${t}`);
    progress(`analyze: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    if (marker) writeFileSync(marker, `${new Date().toISOString()}\n`);
  } else if (Number(n) !== N) {
    throw new Error(`the kept index ${url} holds ${n} sessions, not ${N}: remove ${marker} to fill it again`);
  }
  return { db, stop: async () => {
    await db.close();
    await server?.stop();
  } };
}

export default async function () {
  for (const backend of BACKENDS) await searchBench(backend);
}

async function searchBench(backend) {
  const { db, stop } = await openBackend(backend);
  try {
    seed = SEARCH_SEED;
    const sample = db.dialect === 'postgres' ? 'TABLESAMPLE SYSTEM (1) LIMIT 1000' : 'WHERE rowid % 1000 = 7 LIMIT 1000';
    const keys = await db.query(`SELECT device_id, session_id, case_ref, party FROM sessions ${sample}`);
    const some = () => pick(keys);
    const month = () => {
      const from = T0 + Math.floor(rnd() * (SPAN - 30 * DAY));
      return { from, to: from + 30 * DAY };
    };
    const kinds = {
      'officer badge': () => ({ officer: officer(Math.floor(rnd() * OFFICERS)).badge }),
      'officer name': () => ({ officer: officer(Math.floor(rnd() * OFFICERS)).name }),
      device: () => ({ device: some().device_id }),
      'matter + month': () => ({ matter: pick(MATTERS), ...month() }),
      'case reference': () => ({ caseRef: some().case_ref }),
      'party (part)': () => ({ party: some().party.slice(0, 4) }),
      'place (part)': () => ({ place: place(Math.floor(rnd() * DEVICES)).slice(2) }),
      week: () => {
        const from = T0 + Math.floor(rnd() * (SPAN - 7 * DAY));
        return { from, to: from + 7 * DAY };
      },
      'officer badge + month': () => ({ officer: officer(Math.floor(rnd() * OFFICERS)).badge, ...month() }),
    };
    const all = [];
    const lookups = [];
    // Warm both the same way: a round of each before timing.
    for (const make of Object.values(kinds)) await searchSessions(db, make());
    for (const k of keys.slice(0, 50)) await db.query('SELECT * FROM sessions WHERE device_id = $1 AND session_id = $2', [k.device_id, k.session_id]);
    for (const [name, make] of Object.entries(kinds)) {
      const first = [];
      const second = [];
      for (let i = 0; i < SEARCHES; i++) {
        const f = make();
        let page;
        first.push(await timed(async () => (page = await searchSessions(db, f))));
        if (page.next) second.push(await timed(() => searchSessions(db, f, { after: page.next })));
        const k = some();
        lookups.push(await timed(() => db.query('SELECT * FROM sessions WHERE device_id = $1 AND session_id = $2', [k.device_id, k.session_id])));
      }
      all.push(...first, ...second);
      const next = second.length > 0 ? `, next pages p95 ${p95(second).toFixed(1)} ms` : '';
      progress(`${name}: first pages p95 ${p95(first).toFixed(1)} ms, median ${first.sort((a, b) => a - b)[first.length >> 1].toFixed(1)} ms${next}`);
    }
    // The unfiltered list (newest first), page after page.
    let after;
    const pages = [];
    for (let i = 0; i < SEARCHES; i++) {
      let page;
      pages.push(await timed(async () => (page = await searchSessions(db, {}, after ? { after } : {}))));
      after = page.next;
    }
    all.push(...pages);
    progress(`next pages (keyset), unfiltered, pages 1-${SEARCHES}: p95 ${p95(pages).toFixed(1)} ms`);
    // Deep pages of filtered searches: a matter over all three years, and the busiest-looking officer.
    for (const [name, f] of [
      ['matter, all years', { matter: MATTERS[0] }],
      ['officer badge', { officer: officer(0).badge }],
    ]) {
      let after;
      const deep = [];
      for (let i = 0; i < SEARCHES; i++) {
        let page;
        deep.push(await timed(async () => (page = await searchSessions(db, f, after ? { after } : {}))));
        after = page.next;
        if (!after) break;
      }
      all.push(...deep);
      progress(`${name}, pages 1-${deep.length}: p95 ${p95(deep).toFixed(1)} ms, last page ${deep.at(-1).toFixed(1)} ms`);
    }
    progress(`primary-key lookup: p95 ${p95(lookups).toFixed(2)} ms over ${lookups.length}`);
    const label = N >= 1e6 ? `${N / 1e6}M` : `${N / 1e3}k`;
    report(`index-search${backend === 'sqlite' ? '-sqlite' : ''}-p95-${label}`, p95(all), 'ms', p95(lookups));
  } finally {
    await stop();
  }
}
