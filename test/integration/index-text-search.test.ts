/**
 * Part of a place or party on SQLite through the trigram FTS5 table (schema.ts "sqlite trigram text of place and
 * party", search.ts): the same seeded sessions in two SQLite files, one migrated to the step before the table (the
 * search as it was: LIKE over the walk) and one with it, must give the same pages for every search, also after rows
 * are updated, deleted and written again as `recgw index rebuild` does; and a brute-force scan in JavaScript agrees
 * with both on which sessions hold a fragment. The attacker's part: fragments full of LIKE wildcards, FTS5 query
 * syntax and quotes, which must be searched for as typed and never break the query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { insertRows } from '../../src/index/bulk.js';
import { COLUMNS } from '../../src/index/device-rows.js';
import { migrateIndex } from '../../src/index/migrate.js';
import { INDEX_MIGRATIONS } from '../../src/index/schema.js';
import { searchSessions, type SessionFilter } from '../../src/index/search.js';

afterAll(cleanupTmp);

const STEP = INDEX_MIGRATIONS.findIndex((m) => m.name === 'sqlite trigram text of place and party');

// Fixed-seed generator (mulberry32): the same rows in both files and every run.
function generator(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Texts that a trigram tokenizer or a LIKE pattern could take for something else, and ASCII case (LIKE is case
// sensitive on both databases, so "abc" must not find "ABC").
const TRICKY = ['50%折扣店', 'a_b仓库', '"引号"商行', 'NEAR(x, y) 有限公司', 'AND OR NOT 商店', '反斜杠\\店', 'ABC食品', 'abc食品', '表情😀餐厅', 'col:umn^*'];
const PLACES = ['询问室', '听证室', '执法车', '仓库', '门店', '后厨'];
const DISTRICTS = ['朝阳', '海淀', '丰台'];

function sessionRows(n: number, rnd: () => number): unknown[][] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const rows: unknown[][] = [];
  for (let i = 0; i < n; i++) {
    const start = Date.UTC(2026, 0, 1) + Math.floor(rnd() * 200) * 86_400_000 + i;
    const party = rnd() < 0.1 ? null : rnd() < 0.15 ? pick(TRICKY) : `${pick(['王', '李', '张'])}${pick(['伟', '芳', '娜'])}${i % 13}号${pick(['食品', '餐饮'])}有限公司`;
    const place = rnd() < 0.1 ? null : rnd() < 0.1 ? pick(TRICKY) : `${pick(DISTRICTS)}${pick(PLACES)}${i % 17}`;
    rows.push([`gw-${i % 7}`, `S-${String(i).padStart(5, '0')}`, i, 'sampling', `C-${i}`, party, place, start, start + 60_000, 'stopped', '[]', '["cam1"]', 60_000, 'camera', 6, 0, 0, 0, 0, 0, 0, 0]);
  }
  return rows;
}

const FILTERS: SessionFilter[] = [
  ...['询问室1', '仓库', '询问室', '朝阳询问室3', '海淀后厨16', '后厨', '室1', '有限公司', '王伟3号', '号食品有', '不存在的地方'].flatMap((t) => [{ place: t }, { party: t }]),
  ...TRICKY.flatMap((t) => [{ place: t }, { party: t }, { party: [...t].slice(0, 3).join('') }]),
  { party: '%%%' },
  { party: '___' },
  { place: '"' },
  { party: '""""' },
  { party: 'abc' },
  { party: 'ABC' },
  { party: '😀餐' },
  { party: '' },
  { place: '朝阳', party: '有限公司' },
  { place: '询问室', party: '食品' },
  { place: '仓库', device: 'gw-3' },
  { party: '有限公司', from: Date.UTC(2026, 2, 1), to: Date.UTC(2026, 3, 1) },
  { place: '询问室1', matter: 'sampling' },
];

/** Every page of a search, each page's rows and cursor, walked to the end with a small page. */
async function allPages(db: IndexDb, f: SessionFilter): Promise<unknown[]> {
  const pages: unknown[] = [];
  let after: string | undefined;
  for (;;) {
    const p = await searchSessions(db, f, { limit: 37, ...(after !== undefined ? { after } : {}) });
    pages.push(p);
    if (p.next === null) return pages;
    after = p.next;
  }
}

describe('searching part of a place or party on SQLite with the trigram table', () => {
  let before: IndexDb;
  let after: IndexDb;
  const rows = sessionRows(3000, generator(20261207));

  beforeAll(async () => {
    // `before` stops short of the step; the migrations after it touch no session rows.
    expect(STEP).toBeGreaterThan(0);
    before = await openIndexDb(`sqlite:${join(tmp('recgw-text-before-'), 'index.db')}`);
    after = await openIndexDb(`sqlite:${join(tmp('recgw-text-after-'), 'index.db')}`);
    await migrateIndex(before, INDEX_MIGRATIONS.slice(0, STEP));
    // Half the rows before the step (the migration fills the table from them), half after (the triggers).
    await migrateIndex(after, INDEX_MIGRATIONS.slice(0, STEP));
    for (const db of [before, after]) await insertRows(db, 'sessions', COLUMNS.sessions, rows.slice(0, 1500));
    expect(await migrateIndex(after)).toEqual({ from: STEP, to: INDEX_MIGRATIONS.length });
    for (const db of [before, after]) await insertRows(db, 'sessions', COLUMNS.sessions, rows.slice(1500));
  });
  afterAll(async () => {
    await before?.close();
    await after?.close();
  });

  const same = async (): Promise<void> => {
    for (const f of FILTERS) expect(await allPages(after, f), JSON.stringify(f)).toEqual(await allPages(before, f));
  };

  it('finds the same pages as the search without it, and what a scan of every session finds', async () => {
    await same();
    for (const f of FILTERS.filter((f) => Object.keys(f).length === 1)) {
      const [[column, text]] = Object.entries(f) as [['place' | 'party', string]];
      const col = COLUMNS.sessions.indexOf(column);
      const expected = rows.filter((r) => typeof r[col] === 'string' && (r[col] as string).includes(text)).length;
      const found = (await allPages(after, f)).reduce<number>((n, p) => n + (p as { rows: unknown[] }).rows.length, 0);
      expect(found, JSON.stringify(f)).toBe(expected);
    }
    // Not a vacuous comparison: the fragments do occur, tricky ones included.
    expect((await searchSessions(after, { party: '"引号"商' })).rows.length).toBeGreaterThan(0);
    expect((await searchSessions(after, { place: '50%折' })).rows.length).toBeGreaterThan(0);
    expect((await searchSessions(after, { party: 'abc' })).rows.every((r) => r.party!.includes('abc'))).toBe(true);
  });

  it('is the plan: a fragment of 3 characters or more is looked up in sessions_text', async () => {
    const plan = await after.query<{ detail: string }>(
      `EXPLAIN QUERY PLAN SELECT s.rowid FROM sessions_text CROSS JOIN sessions s ON s.rowid = sessions_text.rowid WHERE sessions_text MATCH $1`,
      ['place : "询问室"'],
    );
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/VIRTUAL TABLE INDEX/);
    const [{ n }] = await after.query<{ n: number }>("SELECT COUNT(*) AS n FROM sessions_text WHERE sessions_text MATCH 'place : \"询问室\"'");
    const [{ m }] = await after.query<{ m: number }>("SELECT COUNT(*) AS m FROM sessions WHERE place LIKE '%询问室%'");
    expect(n).toBe(m);
    expect(m).toBeGreaterThan(100);
  });

  it('stays in step when sessions are updated, deleted and written again as a rebuild does', async () => {
    for (const db of [before, after]) {
      await db.query("UPDATE sessions SET place = '顺义码头' || session_id WHERE device_id = 'gw-1'");
      await db.query("UPDATE sessions SET party = NULL WHERE device_id = 'gw-2'");
      await db.query("DELETE FROM sessions WHERE device_id = 'gw-3'");
      await db.transaction(async (tx) => {
        await tx.query("DELETE FROM sessions WHERE device_id = 'gw-4'");
        await insertRows(tx, 'sessions', COLUMNS.sessions, rows.filter((r) => r[0] === 'gw-4').map((r) => r.map((v, i) => (i === 6 ? `通州仓库${String(v)}` : v))));
      });
    }
    await same();
    expect((await searchSessions(after, { place: '顺义码头' })).rows.length).toBeGreaterThan(0);
    expect((await searchSessions(after, { place: '通州仓库' })).rows.every((r) => r.deviceId === 'gw-4')).toBe(true);
    const [{ n }] = await after.query<{ n: number }>("SELECT COUNT(*) AS n FROM sessions_text WHERE sessions_text MATCH 'place : \"通州仓库\"'");
    const [{ m }] = await after.query<{ m: number }>("SELECT COUNT(*) AS m FROM sessions WHERE place LIKE '%通州仓库%'");
    expect(n).toBe(m);
  });
});

describe('the desk search reads sessions_text', () => {
  it('misses a session whose trigram entry is gone (so the comparison above compares two different searches)', async () => {
    const db = await openIndexDb(`sqlite:${join(tmp('recgw-text-uses-'), 'index.db')}`);
    try {
      await migrateIndex(db);
      await insertRows(db, 'sessions', COLUMNS.sessions, sessionRows(50, generator(7)));
      const found = (await searchSessions(db, { place: '询问室' })).rows;
      expect(found.length).toBeGreaterThan(1);
      const [{ rowid }] = await db.query<{ rowid: number }>('SELECT rowid FROM sessions WHERE session_id = $1', [found[0]!.sessionId]);
      await db.query('DELETE FROM sessions_text WHERE rowid = $1', [rowid]);
      expect((await searchSessions(db, { place: '询问室' })).rows.map((r) => r.sessionId)).toEqual(found.slice(1).map((r) => r.sessionId));
      // Two characters have no trigram: that search still walks the sessions, and finds it.
      expect((await searchSessions(db, { place: '问室' })).rows.map((r) => r.sessionId)).toEqual(found.map((r) => r.sessionId));
    } finally {
      await db.close();
    }
  });
});
