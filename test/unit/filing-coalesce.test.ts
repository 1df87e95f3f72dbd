/**
 * Filings of one device coalesce (src/receiver/filing.ts): while one filing is in the store, the commits that follow
 * join one waiting filing, which writes their lines in one append and head.json once; a filing never claims lines
 * committed after it read them, and one that fails leaves them staged, reported, and filed by the next. A real
 * receiver.db (SQLite) and a real folder store; the store's writes are counted and held at a gate.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import { Filing, stage } from '../../src/receiver/filing.js';
import { FolderStore } from '../../src/store/folder-store.js';
import type { EvidenceStore } from '../../src/store/store.js';
import { RECEIPTS_FILE } from '../../src/evidence/receipt.js';
import { HEAD_FILE } from '../../src/evidence/head.js';

afterAll(cleanupTmp);
const DEV = 'coalesce-dev';

interface Gated {
  store: EvidenceStore;
  /** Each write, in order: 'append receipts.jsonl' or 'replace head.json'. */
  writes: string[];
  /** Let the next held write go. */
  open: () => void;
  /** The writes that have reached the gate. */
  held: () => number;
  /** Make the next write fail instead of writing. */
  failNext: () => void;
}

function gated(dir: string): Gated {
  const folder = new FolderStore(dir);
  const writes: string[] = [];
  const gates: (() => void)[] = [];
  let reached = 0;
  let fail = false;
  const hold = async (what: string): Promise<void> => {
    reached++;
    await new Promise<void>((r) => gates.push(r));
    if (fail) {
      fail = false;
      throw new Error('the store refused (test)');
    }
    writes.push(what);
  };
  const store = Object.assign(Object.create(folder) as EvidenceStore, {
    append: async (name: string, offset: number, data: Buffer) => {
      await hold(`append ${name.slice(name.lastIndexOf('/') + 1)}`);
      return folder.append(name, offset, data);
    },
    replace: async (name: string, data: Buffer) => {
      await hold(`replace ${name.slice(name.lastIndexOf('/') + 1)}`);
      return folder.replace(name, data);
    },
  });
  return { store, writes, open: () => gates.shift()?.(), held: () => reached, failNext: () => (fail = true) };
}

function world(): { dir: string; sql: SqliteReceiverSql; g: Gated; commit: (n: number) => Promise<void> } {
  const dir = tmp('recgw-filing-');
  const sql = new SqliteReceiverSql(openReceiverDb(dir));
  const g = gated(dir);
  // What a receipt's transaction stages: its receipt line, and (an entries receipt) the new head.json.
  const commit = (n: number): Promise<void> =>
    sql.transaction(async (tx) => {
      await stage(tx, DEV, RECEIPTS_FILE, `{"receipt":${n}}`);
      await stage(tx, DEV, HEAD_FILE, `{"head":${n}}\n`, 'replace');
    }, { device: DEV });
  return { dir, sql, g, commit };
}

const receipts = (dir: string): string => readFileSync(join(dir, DEV, RECEIPTS_FILE), 'utf8');
const lines = (ns: number[]): string => ns.map((n) => `{"receipt":${n}}\n`).join('');
/** receipts.jsonl holds exactly these lines, nothing is left staged; then closes the database. */
async function allFiled(w: { dir: string; sql: SqliteReceiverSql }, ns: number[]): Promise<void> {
  expect(receipts(w.dir)).toBe(lines(ns));
  expect(await w.sql.query('SELECT id FROM unfiled')).toEqual([]);
  await w.sql.close();
}

/** Let held writes through until `done` settles. */
async function release(g: Gated, done: Promise<unknown>): Promise<void> {
  const t = setInterval(() => g.open(), 5);
  try {
    await done;
  } finally {
    clearInterval(t);
  }
}

describe('coalesced filing of a device', () => {
  // On SQLite a commit waits for the filing's transaction, which holds the process's write queue while it writes:
  // the commits below are queued during the first filing, as a receiver's next messages are.
  it('commits queued while a filing is in the store join one waiting filing: one append, head.json once', async () => {
    const w = world();
    const filing = new Filing(w.g.store, w.sql);
    await w.commit(0);
    const first = filing.file(DEV);
    await vi.waitFor(() => expect(w.g.held()).toBe(1)); // the first filing is in its append
    const joined: Promise<void>[] = [];
    const committed = [1, 2, 3].map((n) => w.commit(n).then(() => void joined.push(filing.file(DEV))));
    await release(w.g, Promise.all([first, ...committed]));
    await release(w.g, Promise.all(joined));
    // The three callers shared one filing.
    expect(joined).toHaveLength(3);
    expect(joined[1]).toBe(joined[0]);
    expect(joined[2]).toBe(joined[0]);
    expect(w.g.writes).toEqual(['append receipts.jsonl', 'replace head.json', 'append receipts.jsonl', 'replace head.json']);
    expect(receipts(w.dir)).toBe(lines([0, 1, 2, 3]));
    expect(readFileSync(join(w.dir, DEV, HEAD_FILE), 'utf8')).toBe('{"head":3}\n');
    expect(await w.sql.query('SELECT id FROM unfiled')).toEqual([]);
    await w.sql.close();
  });

  it('in the background (the receiver), file() returns at once and filed() resolves only once the line is in the store', async () => {
    const w = world();
    const reported: unknown[] = [];
    const filing = new Filing(w.g.store, w.sql, { report: (_d, err) => reported.push(err), lingerMs: 60_000 });
    await w.commit(0);
    await filing.file(DEV); // returns before anything is written
    let filed = false;
    const done = filing.filed(DEV).then(() => (filed = true));
    await vi.waitFor(() => expect(w.g.held()).toBe(1));
    expect(filed).toBe(false);
    expect(w.g.writes).toEqual([]);
    await release(w.g, done);
    expect(receipts(w.dir)).toBe(lines([0]));
    expect(reported).toEqual([]);
    await filing.drain();
    await w.sql.close();
  });

  it('attack: a caller never joins a running filing, which read unfiled before its commit (its line goes in the next, not lost)', async () => {
    const w = world();
    const filing = new Filing(w.g.store, w.sql);
    await w.commit(0);
    const first = filing.file(DEV);
    await vi.waitFor(() => expect(w.g.held()).toBe(1));
    // Had this joined the running filing, its row would stay staged until some later commit of the device.
    let second: Promise<void> | undefined;
    const committed = w.commit(1).then(() => void (second = filing.file(DEV)));
    await release(w.g, Promise.all([first, committed]));
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    await release(w.g, second!);
    await allFiled(w, [0, 1]);
  });

  it('attack: a filing that fails is reported, keeps its lines staged and does not say filed; the next files them once', async () => {
    const w = world();
    const reported: string[] = [];
    const filing = new Filing(w.g.store, w.sql, { report: (d, err) => reported.push(`${d}: ${(err as Error).message}`), lingerMs: 60_000 });
    await w.commit(0);
    w.g.failNext();
    await filing.file(DEV);
    const failed = filing.filed(DEV);
    await release(w.g, failed.catch(() => undefined));
    await expect(failed).rejects.toThrow(/could not write coalesce-dev's receipts/);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(/the store refused \(test\)/);
    expect((await w.sql.query('SELECT id FROM unfiled')).length).toBe(2);
    await w.commit(1);
    await filing.file(DEV);
    await release(w.g, filing.filed(DEV));
    await allFiled(w, [0, 1]);
  });

  it('a filing asked for later lingers for the next commit to join it, until one asked for now, or drain', async () => {
    const w = world();
    const filing = new Filing(w.g.store, w.sql, { report: () => undefined, lingerMs: 60_000 });
    await w.commit(0);
    await filing.file(DEV, true); // an entries receipt: its segment's receipt follows
    await new Promise((r) => setTimeout(r, 100));
    expect(w.g.held()).toBe(0); // lingering: nothing written yet
    await w.commit(1);
    await filing.file(DEV); // the segment's receipt: files both now
    await release(w.g, filing.filed(DEV));
    expect(w.g.writes).toEqual(['append receipts.jsonl', 'replace head.json']);
    expect(receipts(w.dir)).toBe(lines([0, 1]));
    // A stop files what lingers rather than waiting for it.
    await w.commit(2);
    await filing.file(DEV, true);
    await release(w.g, filing.drain());
    await allFiled(w, [0, 1, 2]);
  });

  it('a filing asked for later files by itself once the linger is over (nothing waits for ever)', async () => {
    const w = world();
    const filing = new Filing(w.g.store, w.sql, { report: () => undefined, lingerMs: 150 });
    await w.commit(0);
    await filing.file(DEV, true);
    await release(w.g, filing.filed(DEV));
    expect(receipts(w.dir)).toBe(lines([0]));
    await w.sql.close();
  });
});
