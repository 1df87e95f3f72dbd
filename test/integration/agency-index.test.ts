/**
 * The agency index against a real PostgreSQL (test/helpers/postgres.ts) and an SQLite file: a store of an interview
 * room and a vehicle built with the report's store helpers (sessions with parties and places, detected and declared
 * interruptions, a terminated session with and one without a statement, an unclosed one, a vehicle's return to base
 * and a return to coverage, receipts from a gateway configured with a 720 h deadline), rebuilt with
 * `recgw index rebuild`, and the index's searches and totals checked against `recgw report --json` and the plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, freePort, tmp } from '../helpers/fixtures.js';
import { segName } from '../helpers/report-store.js';
import { A, B, H, LI, M, ZHANG, ZHAO, buildIndexStore, cli, dumpIndex, iso, t0 } from '../helpers/index-store.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { COLUMNS, TABLES } from '../../src/index/device-rows.js';
import { migrateIndex } from '../../src/index/migrate.js';
import { rebuildIndex } from '../../src/index/rebuild.js';
import { INDEX_MIGRATIONS } from '../../src/index/schema.js';
import { findPostgresBinary } from '../../src/demo/throwaway-postgres.js';
import { searchSessions, sessionDetail, sessionTotals, type SessionFilter } from '../../src/index/search.js';
import { insertRows } from '../../src/index/bulk.js';
import type { StoreReport, Totals } from '../../src/report/types.js';

let caDir: string;
let store: string;
let report: StoreReport;

const pg = withPostgres();

beforeAll(async () => {
  ({ caDir, store, report } = await buildIndexStore());
}, 120_000);
afterAll(cleanupTmp);

const ids = async (db: IndexDb, f: SessionFilter): Promise<string[]> => (await searchSessions(db, f)).rows.map((s) => s.sessionId);
const figures = (t: Omit<Totals, 'uploads'>): unknown => ({ sessions: t.sessions, unclosed: t.unclosed, recorded: t.recorded, interruptions: t.interruptions, terminated: t.terminated });

describe.each(['postgres', 'sqlite'] as const)('the agency index on %s', (kind) => {
  let url: string;
  let db: IndexDb;

  beforeAll(async () => {
    url = kind === 'postgres' ? await createDatabase(pg.server(), 'index_main') : `sqlite:${join(tmp('recgw-index-db-'), 'index.db')}`;
    const r = await cli('index', 'rebuild', '--store', store, '--database', url, '--ca', caPaths(caDir).caCert);
    expect(r.err).toContain('2/2 room-1: 2 sessions, 6 segments, 3 interruptions, 7 receipts');
    expect(r.out).toMatch(/^index rebuilt in the .*: 2 device\(s\), 4 session\(s\), 9 segment\(s\), 6 interruption\(s\), 9 receipt\(s\) in [\d.]+ s\n$/);
    expect(r.code).toBe(0);
    db = await openIndexDb(url);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('gives the figures recgw report gives, per device, officer (by badge), matter and in total', async () => {
    for (const d of report.devices) expect([d.deviceId, figures(await sessionTotals(db, { device: d.deviceId }))]).toEqual([d.deviceId, figures(d)]);
    for (const o of report.officers) expect([o.badge, figures(await sessionTotals(db, { officer: o.badge }))]).toEqual([o.badge, figures(o)]);
    for (const m of report.matters) expect([m.matter, figures(await sessionTotals(db, { matter: m.matter }))]).toEqual([m.matter, figures(m)]);
    expect(figures(await sessionTotals(db, {}))).toEqual(figures(report.total));
    // The figures themselves, so that the two agreeing on nothing would not pass.
    expect(report.total.sessions).toBe(4);
    expect(report.total.recorded.seconds).toBe((150 + 45 + 60 + 15) * 60);
    expect(report.total.interruptions.byReason.map((r) => `${r.reason}:${r.count}`)).toEqual(['device-fault:2', 'fire-alarm:1', 'low-battery:1', 'power-loss:1', 'site-change:1']);
  });

  it('judges uploads by the rule, never by the deadline the gateway states', async () => {
    // recgw report judges as the index does (the rule, not the gateway's 720 h), and names the gateways configured beyond it (every item of both).
    expect(report.total.uploads).toMatchObject({ onTime: 6, late: 3 });
    expect(report.devices.map((d) => [d.deviceId, d.deadlines.beyondRule])).toEqual([
      ['car-2', 2],
      ['room-1', 7],
    ]);
    // room-1: S-A cam1 #0 (5 min) and #2 (20 min) late; car-2: S-C cam1 #1 late even though the gateway moved it.
    expect((await sessionTotals(db, { device: 'room-1' })).uploads).toEqual({ onTime: 5, late: 2 });
    expect((await sessionTotals(db, { device: 'car-2' })).uploads).toEqual({ onTime: 1, late: 1 });
    expect((await sessionTotals(db, {})).uploads).toEqual({ onTime: 6, late: 3 });
    expect((await sessionTotals(db, { officer: LI.badge })).uploads).toEqual({ onTime: 4, late: 3 });
    const late = await db.query<{ item: string; late_ms: number; deadline_ms: number; stated_deadline_ms: number }>(
      'SELECT item, late_ms, deadline_ms, stated_deadline_ms FROM receipts WHERE late_ms > 0 ORDER BY item',
    );
    expect(late.map((r) => [r.item, r.late_ms / M])).toEqual([
      [segName('S-A', 'cam1', 0), 5],
      [segName('S-A', 'cam1', 2), 20],
      [segName('S-C', 'cam1', 1), 6 * 60 + 10],
    ]);
    // The vehicle's return to base moved S-C's deadlines to 24 h after it; the return to coverage moved nothing.
    expect(late[2]!.deadline_ms).toBe(t0 - 10 * M + 24 * H);
    // What the gateway stated is kept, to find gateways configured beyond the rule.
    expect(late[0]!.stated_deadline_ms - late[0]!.deadline_ms).toBe(696 * H);
    const entries = await db.query<{ late_ms: number }>("SELECT late_ms FROM receipts WHERE kind = 'entries'");
    expect(entries).toHaveLength(1);
    expect(entries[0]!.late_ms).toBeLessThan(-23 * H); // due 24 h after its oldest entry (written about t0), stored t0 + 10 min
  });

  it('finds sessions by device, officer (badge or name), matter, case, party, place and start time, newest first', async () => {
    expect(await ids(db, {})).toEqual(['S-D', 'S-B', 'S-A', 'S-C']);
    expect(await ids(db, { device: 'room-1' })).toEqual(['S-B', 'S-A']);
    expect(await ids(db, { officer: ZHAO.badge })).toEqual(['S-D', 'S-C']);
    expect(await ids(db, { officer: '赵六' })).toEqual(['S-C']);
    expect(await ids(db, { officer: '赵陆' })).toEqual(['S-D']);
    expect(await ids(db, { officer: LI.badge })).toEqual(['S-A', 'S-C']);
    expect(await ids(db, { matter: 'site-inspection' })).toEqual(['S-A', 'S-C']);
    expect(await ids(db, { caseRef: '京朝市监罚〔2026〕103号' })).toEqual(['S-C']);
    expect(await ids(db, { caseRef: '103号' })).toEqual([]);
    expect(await ids(db, { party: '食品' })).toEqual(['S-A']);
    expect(await ids(db, { party: '有限公司' })).toEqual(['S-A', 'S-C']);
    expect(await ids(db, { place: '询问室' })).toEqual(['S-A']);
    expect(await ids(db, { place: 'a12345' })).toEqual([]); // case matters, in both databases
    expect(await ids(db, { from: t0 - 26 * H, to: t0 - 5 * H })).toEqual(['S-B', 'S-A']);
    expect(await ids(db, { from: t0 - 26 * H, to: Date.parse(B.start) })).toEqual(['S-A']);
    expect(await ids(db, { officer: ZHANG.badge, matter: 'sampling' })).toEqual(['S-B']);
    expect(await ids(db, { device: 'car-2', party: '食品' })).toEqual([]);
  });

  it('takes what is typed literally: LIKE wildcards and quotes find nothing they should not', async () => {
    expect(await ids(db, { party: '%' })).toEqual([]);
    expect(await ids(db, { party: '_' })).toEqual([]);
    expect(await ids(db, { party: "' OR '1'='1" })).toEqual([]);
    expect(await ids(db, { officer: "x' OR 1=1 --" })).toEqual([]);
    expect(await ids(db, { device: 'room-1', officer: ZHANG.name })).toEqual(['S-B', 'S-A']);
  });

  it('pages a part of a party or place by keyset too (its keys read first, through sessions_by_start_text)', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let n = 0; n < 10; n++) {
      const p = await searchSessions(db, { party: '有限公司' }, { limit: 1, ...(after !== undefined ? { after } : {}) });
      seen.push(...p.rows.map((s) => s.sessionId));
      if (p.next === null) break;
      after = p.next;
    }
    expect(seen).toEqual(['S-A', 'S-C']);
    expect((await searchSessions(db, { place: '询问室', device: 'room-1' })).rows.map((s) => [s.sessionId, s.officers.length > 0])).toEqual([['S-A', true]]);
    const index = kind === 'postgres'
      ? await db.query("SELECT indexname FROM pg_indexes WHERE indexname = 'sessions_by_start_text'")
      : await db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'sessions_by_start_text'");
    expect(index).toHaveLength(1);
  });

  it('pages by keyset: one session a page walks all of them once, and a forged position is refused', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let n = 0; n < 10; n++) {
      const p = await searchSessions(db, {}, { limit: 1, ...(after !== undefined ? { after } : {}) });
      seen.push(...p.rows.map((s) => s.sessionId));
      if (p.next === null) break;
      after = p.next;
    }
    expect(seen).toEqual(['S-D', 'S-B', 'S-A', 'S-C']);
    const two = await searchSessions(db, { officer: ZHANG.badge }, { limit: 1 });
    expect(two.rows.map((s) => s.sessionId)).toEqual(['S-B']);
    expect((await searchSessions(db, { officer: ZHANG.badge }, { limit: 1, after: two.next! })).rows.map((s) => s.sessionId)).toEqual(['S-A']);
    await expect(searchSessions(db, {}, { after: 'not-a-position' })).rejects.toThrow(/not one this index gave out/);
    await expect(searchSessions(db, {}, { after: Buffer.from('[1,"a"]').toString('base64url') })).rejects.toThrow(/not one this index gave out/);
    await expect(searchSessions(db, {}, { limit: 501 })).rejects.toThrow(/1 to 500/);
  });

  it("holds each session's times, officers, coverage, interruptions, statements and receipts", async () => {
    const [a] = (await searchSessions(db, { caseRef: A.caseRef! })).rows;
    expect(a).toMatchObject({
      deviceId: 'room-1',
      matter: 'site-inspection',
      party: '某某食品有限公司',
      place: '一号询问室',
      start: t0 - 25 * H,
      end: t0 - 25 * H + 160 * M,
      closedBy: 'stopped',
      officers: [ZHANG, LI],
      recordedSeconds: 150 * 60,
      segments: 5,
      interruptions: 1,
      gaps: 2,
      unexplainedGaps: 1,
      lateSegments: 2,
      unreceipted: 0,
    });
    const ad = (await sessionDetail(db, 'room-1', 'S-A'))!;
    expect(ad.gaps.map((g) => [g.source, (g.start - Date.parse(A.start)) / M, (g.end - Date.parse(A.start)) / M, g.explained, g.reason])).toEqual([
      ['mic1', 100, 105, false, null],
      ['cam1', 120, 130, true, 'device-fault'],
    ]);
    expect(ad.segments.filter((g) => g.source === 'cam1').map((g) => [g.seq, g.deadline - t0, g.stored === null ? null : g.stored - t0])).toEqual([
      [0, 0, 5 * M],
      [1, H, 10 * M],
      [2, 100 * M, 2 * H],
    ]);

    const b = (await sessionDetail(db, 'room-1', 'S-B'))!;
    expect(b.session).toMatchObject({ closedBy: 'terminated', statementBadges: 0, party: '张记餐馆', recordedSeconds: 45 * 60 });
    expect(b.interruptions.map((i) => [i.reason, i.zh, i.origin, i.spokenExplanation, i.end === null])).toEqual([
      ['site-change', '转换执法场所', 'declared', true, false],
      ['power-loss', '断电', 'detected', false, true],
    ]);
    expect(b.statements).toEqual([]);

    const c = (await sessionDetail(db, 'car-2', 'S-C'))!;
    expect(c.session).toMatchObject({ closedBy: 'terminated', statementBadges: 2, place: '京A12345 车内', lateSegments: 1 });
    expect(c.statements).toHaveLength(1);
    expect(c.statements[0]).toMatchObject({ text: '设备故障，无法继续录制。', officers: [LI, ZHAO] });
    expect(c.statements[0]!.confirmations).toEqual([
      { badge: LI.badge, name: LI.name, via: 'panel', at: iso(t0 - 38 * H) },
      { badge: ZHAO.badge, name: ZHAO.name, via: 'console', at: iso(t0 - 38 * H) },
    ]);

    const d = (await sessionDetail(db, 'car-2', 'S-D'))!;
    expect(d.session).toMatchObject({ end: null, closedBy: null, place: null, caseRef: '', unreceipted: 1, officers: [{ name: '赵陆', badge: ZHAO.badge }] });
    expect(d.interruptions.map((i) => [i.reason, i.zh])).toEqual([['fire-alarm', null]]);
    expect(await sessionDetail(db, 'car-2', 'S-A')).toBeUndefined();
    const returns = await db.query<{ reason: string }>('SELECT reason FROM vehicle_returns ORDER BY ledger_seq');
    expect(returns.map((r) => r.reason)).toEqual(['returned-to-base', 'returned-to-coverage']);
  });

  it('rebuilds to the same rows every time; a device gone from the store leaves the index', async () => {
    const before = await dumpIndex(db);
    expect(before.sessions).toHaveLength(4);
    const again = await cli('index', 'rebuild', '--store', store, '--database', url, '--ca', caPaths(caDir).caCert, '--quiet');
    expect([again.code, again.err]).toEqual([0, '']);
    expect(await dumpIndex(db)).toEqual(before);
    // Two rebuilds at once, each on its own connection, end in the same rows too.
    const other = await openIndexDb(url);
    try {
      const caPems = [readFileSync(caPaths(caDir).caCert, 'utf8')];
      await Promise.all([rebuildIndex(db, store, { caPems }), rebuildIndex(other, store, { caPems })]);
    } finally {
      await other.close();
    }
    expect(await dumpIndex(db)).toEqual(before);

    const aside = tmp('recgw-index-aside-');
    renameSync(join(store, 'car-2'), join(aside, 'car-2'));
    try {
      const r = await cli('index', 'rebuild', '--store', store, '--database', url, '--ca', caPaths(caDir).caCert);
      expect(r.code).toBe(0);
      expect(r.err).toContain('car-2: no longer in the store, removed from the index');
      expect(r.out).toContain('1 device(s) no longer in the store removed');
      const after = await dumpIndex(db);
      for (const t of TABLES) expect(after[t]!.some((row) => String(row).includes('"car-2"'))).toBe(false);
      expect(await ids(db, {})).toEqual(['S-B', 'S-A']);
    } finally {
      renameSync(join(aside, 'car-2'), join(store, 'car-2'));
    }
    await cli('index', 'rebuild', '--store', store, '--database', url, '--ca', caPaths(caDir).caCert, '--quiet');
    expect(await dumpIndex(db)).toEqual(before);
  });
});

describe('the index database: migrations, and what a wrong database or store gets told', () => {
  it('migrates once when four migrators start at the same moment, each on its own connection', async () => {
    for (const round of [1, 2, 3]) {
      const url = await createDatabase(pg.server(), `index_race_${round}`);
      const dbs = await Promise.all([1, 2, 3, 4].map(() => openIndexDb(url)));
      try {
        const results = await Promise.all(dbs.map((d) => migrateIndex(d)));
        expect(results.filter((r) => r.from === 0)).toHaveLength(1);
        expect(results.every((r) => r.to === INDEX_MIGRATIONS.length)).toBe(true);
        const rows = await dbs[0]!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        expect(rows.map((r) => r.version)).toEqual(INDEX_MIGRATIONS.map((_, i) => i + 1));
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
    }
  });

  it('adds sessions_by_start_text to an index made before it, its sessions kept', async () => {
    for (const url of [await createDatabase(pg.server(), 'index_text_step'), `sqlite:${join(tmp('recgw-index-step-'), 'index.db')}`]) {
      const db = await openIndexDb(url);
      try {
        const before = INDEX_MIGRATIONS.findIndex((m) => m.name === 'sessions by start with place and party');
        expect(before).toBeGreaterThan(0);
        await migrateIndex(db, INDEX_MIGRATIONS.slice(0, before));
        await insertRows(db, 'sessions', COLUMNS.sessions, [
          ['d', 's', 1, 'sampling', 'C-1', '某某食品有限公司', '一号仓库', 1000, 61_000, 'stopped', '[]', '["cam1"]', 60_000, 'camera', 6, 0, 0, 0, 0, 0, 0, 0],
        ]);
        expect(await migrateIndex(db)).toEqual({ from: before, to: INDEX_MIGRATIONS.length });
        expect((await searchSessions(db, { place: '仓库' })).rows.map((r) => r.sessionId)).toEqual(['s']);
      } finally {
        await db.close();
      }
    }
  });

  it('refuses a database whose schema is newer than this recgw', async () => {
    const url = await createDatabase(pg.server(), 'index_newer');
    const db = await openIndexDb(url);
    try {
      await migrateIndex(db);
      await db.query('INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)', [99, 'from the future', 0]);
      await expect(migrateIndex(db)).rejects.toThrow(`has index schema version 99, newer than this recgw knows (${INDEX_MIGRATIONS.length}): run the newer recgw`);
    } finally {
      await db.close();
    }
  });

  it('names the problem and the fix for a database it cannot use, without showing the password', async () => {
    const server = pg.server();
    const rebuild = (url: string): Promise<{ code: number; out: string; err: string }> => cli('index', 'rebuild', '--store', store, '--database', url);
    const refused = await rebuild(`postgres://postgres@127.0.0.1:${await freePort()}/x`);
    expect([refused.code, refused.err]).toEqual([2, expect.stringMatching(/cannot reach the PostgreSQL database x at 127\.0\.0\.1:\d+: the connection was refused\. Start PostgreSQL there/)]);
    const missing = await rebuild(`postgres://postgres:s3cret@127.0.0.1:${server.port}/no_such_db`);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('the PostgreSQL database no_such_db at 127.0.0.1');
    expect(missing.err).toContain('does not exist: create it');
    expect(missing.err).not.toContain('s3cret');

    // A user with a password (scram) and no right to create tables, as an agency's DBA might give the index.
    const admin = await openIndexDb(server.url);
    try {
      await admin.exec("CREATE ROLE clerk LOGIN PASSWORD 'right'");
      await admin.exec('CREATE DATABASE index_perm');
      writeFileSync(join(server.dir, 'data', 'pg_hba.conf'), `host all clerk 127.0.0.1/32 scram-sha-256\n${readFileSync(join(server.dir, 'data', 'pg_hba.conf'), 'utf8')}`);
      await admin.query('SELECT pg_reload_conf()');
    } finally {
      await admin.close();
    }
    const badLogin = await rebuild(`postgres://clerk:wrong-one@127.0.0.1:${server.port}/index_perm`);
    expect(badLogin.code).toBe(2);
    expect(badLogin.err).toMatch(/refused the login: password authentication failed for user "clerk"\. Correct the user and password in the database URL/);
    expect(badLogin.err).not.toContain('wrong-one');
    const noRight = await cli('index', 'migrate', '--database', `postgres://clerk:right@127.0.0.1:${server.port}/index_perm`);
    expect(noRight.code).toBe(2);
    expect(noRight.err).toMatch(/permission denied for schema public\. The index's user needs the right to create tables there/);

    const scheme = await rebuild('mysql://root@db/index');
    expect([scheme.code, scheme.err]).toEqual([2, expect.stringContaining('scheme "mysql:" is neither postgres: nor sqlite:')]);
    const notUrl = await rebuild('index on the nas');
    expect([notUrl.code, notUrl.err]).toEqual([2, expect.stringContaining('is not a URL: give postgres://USER:PASSWORD@HOST:PORT/DATABASE')]);
    const noDb = await cli('index', 'rebuild', '--store', store);
    expect([noDb.code, noDb.err]).toEqual([2, expect.stringContaining('--database is required')]);
    expect((await cli('index', 'drop')).code).toBe(2);
  });

  it('names a store that is missing or is not a store, and an SQLite file it cannot make', async () => {
    const url = `sqlite:${join(tmp('recgw-index-db-'), 'index.db')}`;
    const gone = await cli('index', 'rebuild', '--store', join(store, 'nope'), '--database', url);
    expect([gone.code, gone.err]).toEqual([2, expect.stringContaining('is not a folder: give the receiver\'s store folder')]);
    const empty = tmp('recgw-not-a-store-');
    const notStore = await cli('index', 'rebuild', '--store', empty, '--database', url);
    expect([notStore.code, notStore.err]).toEqual([1, expect.stringContaining(`${empty} is not a store: neither it nor any folder in it holds a ledger.jsonl`)]);
    const badFile = await cli('index', 'rebuild', '--store', store, '--database', 'sqlite:/dev/null/index.db');
    expect([badFile.code, badFile.err]).toEqual([2, expect.stringContaining('cannot open the SQLite file /dev/null/index.db')]);
  });

  it("finds PostgreSQL's programs in Debian's folder when they are not on the PATH", () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(findPostgresBinary('initdb')).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin\/initdb$/);
      expect(() => findPostgresBinary('no-such-postgres-program')).toThrow(/install Debian's postgresql package/);
    } finally {
      process.env.PATH = path;
    }
  });
});
