/**
 * What makes the agency log cheap to keep must not make it wrong. The hashes of partial tiles above level 0 are
 * remembered between appends and such tiles are not rewritten while they do not change; a running receiver publishes
 * the files in the background, paced (several commits at once, and at stop), and asks its witnesses paced too.
 * Checked against the verifier's own reading of the published files (every tile and bundle streamed against the
 * checkpoint's root, src/verify/log-view.ts): across tile boundaries, an append that rolled back after completing
 * tiles, a receiver started again on the same store, and two receivers publishing in turn.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { openReceiverDb } from '../../src/receiver/store-db.js';
import { AgencyLog } from '../../src/receiver/agency-log.js';
import { LOG_FILES_LOCK, LogFiles } from '../../src/receiver/log-files.js';
import { Pacer } from '../../src/receiver/pacer.js';
import { PUBLISH_INTERVAL_MS, openReceiverLog } from '../../src/receiver/receiver-log.js';
import { caPaths, logOrigin } from '../../src/pki/ca.js';
import { readLogView } from '../../src/verify/log-view.js';
import { CHECKPOINT_FILE } from '../../src/tlog/tiles.js';
import type { ReceiverConfig } from '../../src/receiver/config.js';
import type { LogLeaf } from '../../src/evidence/log-leaf.js';
import { SqliteReceiverSql } from '../../src/receiver/sqlite-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import { silentLogger } from '../../src/util/log.js';
import { Witness, initWitness } from '../../src/witness/witness.js';
import { WitnessServer } from '../../src/witness/server.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';

afterAll(cleanupTmp);
afterEach(() => {
  vi.useRealTimers();
});

const ca = makeCa();
const p = caPaths(ca.dir);
const caPem = readFileSync(p.caCert, 'utf8');
/** Leaf i as a stored segment of a device named by `salt` (the verifier wants each entry's seq in order: segments have none). */
const leaf = (i: number, salt = 'a'): LogLeaf => ({ v: 1, kind: 'segment', device: `dev-${salt}`, name: `seg-${i}`, size: i, sha256: i.toString(16).padStart(64, '0'), manifestSeq: i, accepted: '2026-12-06T10:00:00.000Z' });
const leaves = (from: number, to: number, salt?: string): LogLeaf[] => Array.from({ length: to - from }, (_, k) => leaf(from + k, salt));

interface Rx {
  sql: ReceiverSql;
  log: AgencyLog;
  files: LogFiles;
}

/** One receiver's view of a store: its connection, log and files, as openReceiverLog builds them. */
async function open(store: string): Promise<Rx> {
  const sql = new SqliteReceiverSql(openReceiverDb(store));
  const log = new AgencyLog(sql, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(caPem));
  const files = new LogFiles(store, log);
  await files.republish(readFileSync(p.logCert, 'utf8'));
  return { sql, log, files };
}

/** Append in a transaction of its own, as an ingest does. */
const commitTo = (r: { sql: ReceiverSql; log: AgencyLog }, ls: LogLeaf[]): Promise<unknown> => r.sql.transaction((tx) => r.log.append(tx, ls));

/** The verifier's problems with the published log, and the size its checkpoint gives. */
function verify(store: string): { problems: string[]; size: number | undefined } {
  const problems: string[] = [];
  const view = readLogView(join(store, 'log'), [caPem], [], new Set(), (d) => problems.push(d));
  return { problems, size: view?.size };
}

const publishedSize = (store: string): number => Number(readFileSync(join(store, 'log', CHECKPOINT_FILE), 'utf8').split('\n')[1]);

describe('the published agency log', () => {
  it('stays exact above level 0, across an append that rolled back after completing tiles and a restart', async () => {
    const store = tmp('recgw-logpub-');
    const a = await open(store);
    const append = async (r: Rx, ls: LogLeaf[]): Promise<void> => {
      await commitTo(r, ls);
      await r.files.publish();
    };
    // Level 1 is 7 hashes wide at 1,900 leaves.
    for (let from = 0; from < 1_900; from += 190) await append(a, leaves(from, from + 190));
    // Published in between: the level-1 hashes of the full tiles are remembered from here.
    expect(verify(store)).toEqual({ problems: [], size: 1_900 });
    // Completes the eighth level-0 tile (stored as a full tile in the transaction), then rolls back.
    await expect(
      a.sql.transaction(async (tx) => {
        await a.log.append(tx, leaves(1_900, 2_100, 'gone'));
        throw new Error('the bookkeeping failed');
      }),
    ).rejects.toThrow('the bookkeeping failed');
    // Other leaves take those places, a few at a time, each commit published.
    for (let from = 1_900, n = 1; from < 2_100; from += n, n = (n % 37) + 1) await append(a, leaves(from, Math.min(2_100, from + n), 'kept'));
    expect(verify(store)).toEqual({ problems: [], size: 2_100 });
    expect(readFileSync(join(store, 'log', CHECKPOINT_FILE), 'utf8')).toBe((await a.log.head()).checkpoint);

    // A receiver started again on the store (nothing remembered) and the first one, in turn.
    const b = await open(store);
    await append(b, leaves(2_100, 2_400, 'b'));
    await append(a, leaves(2_400, 2_410, 'a2'));
    await append(b, leaves(2_410, 2_700, 'b2'));
    expect(verify(store)).toEqual({ problems: [], size: 2_700 });
    await a.sql.close();
    await b.sql.close();
  });

  it('a partial tile cut short by a crash while it was written is written again when the receiver starts', async () => {
    const store = tmp('recgw-logpub-');
    const a = await open(store);
    await commitTo(a, leaves(0, 700));
    await a.files.publish();
    const level1 = join(store, 'log', 'tile', '1', '000.p', '2');
    writeFileSync(level1, readFileSync(level1).subarray(0, 10));
    await a.sql.close();
    const b = await open(store);
    expect(verify(store)).toEqual({ problems: [], size: 700 });
    await b.sql.close();
  });
});

describe('publication after commits, paced', () => {
  // Timers and the clock are faked; setImmediate is not, so that jobs (run as promise callbacks) can be let run.
  const fake = (): void => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };

  it('runs at once after a quiet interval, then once per interval for everything meanwhile; flush runs what waits', async () => {
    fake();
    const runs: number[] = [];
    const pacer = new Pacer(() => void runs.push(Date.now()), 1000, (err) => {
      throw err;
    });
    const t0 = Date.now();
    pacer.kick();
    await settle();
    expect(runs).toEqual([t0]);
    pacer.kick();
    vi.advanceTimersByTime(400);
    pacer.kick();
    await settle();
    expect(runs).toHaveLength(1);
    vi.advanceTimersByTime(600);
    await settle();
    expect(runs).toEqual([t0, t0 + 1000]);
    vi.advanceTimersByTime(5000);
    await pacer.flush();
    expect(runs).toHaveLength(2);
    pacer.kick();
    await settle();
    expect(runs).toEqual([t0, t0 + 1000, t0 + 6000]);
    pacer.kick();
    await pacer.flush();
    expect(runs).toEqual([t0, t0 + 1000, t0 + 6000, t0 + 6000]);
    vi.advanceTimersByTime(5000);
    await settle();
    expect(runs).toHaveLength(4);
  });

  it('never runs the job twice at once, and flush waits for the one running', async () => {
    fake();
    const log: string[] = [];
    let release: () => void = () => undefined;
    const pacer = new Pacer(
      async () => {
        log.push('start');
        await new Promise<void>((r) => (release = r));
        log.push('end');
      },
      1000,
      (err) => {
        throw err;
      },
    );
    pacer.kick();
    await settle();
    vi.advanceTimersByTime(1000);
    pacer.kick();
    const flushed = pacer.flush();
    await settle();
    expect(log).toEqual(['start']);
    release();
    await settle();
    expect(log).toEqual(['start', 'end', 'start']);
    release();
    await flushed;
    expect(log).toEqual(['start', 'end', 'start', 'end']);
  });

  it('a job that fails is reported, and the next event runs it again', async () => {
    fake();
    const errors: unknown[] = [];
    let fail = true;
    let ran = 0;
    const pacer = new Pacer(
      () => {
        ran++;
        if (fail) throw new Error('disk full');
      },
      1000,
      (err) => void errors.push(err),
    );
    pacer.kick();
    await settle();
    expect(errors).toEqual([new Error('disk full')]);
    fail = false;
    pacer.kick();
    vi.advanceTimersByTime(1000);
    await settle();
    expect(ran).toBe(2);
    expect(errors).toHaveLength(1);
  });

  it("a receiver's log files follow its commits within the interval, and all of them at close", async () => {
    fake();
    const store = tmp('recgw-logpub-');
    const sql = new SqliteReceiverSql(openReceiverDb(store));
    const cfg = { store, witnesses: [], agency: { caCert: p.caCert, logKey: p.logKey, logCert: p.logCert } } as unknown as ReceiverConfig;
    const log = await openReceiverLog({ cfg, caPem, caPems: [caPem], sql, now: new Date(), log: silentLogger });
    const until = async (size: number): Promise<void> => {
      for (let i = 0; i < 500 && publishedSize(store) !== size; i++) await sleep(10);
      expect(publishedSize(store)).toBe(size);
    };
    const commit = async (from: number, to: number): Promise<void> => {
      await sql.transaction((tx) => log.append(tx, leaves(from, to)));
      log.grew();
    };
    expect(publishedSize(store)).toBe(0);
    await commit(0, 3);
    await until(3);
    await commit(3, 5);
    await commit(5, 300);
    await sleep(200);
    expect(publishedSize(store)).toBe(3);
    vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
    await until(300);
    expect(verify(store)).toEqual({ problems: [], size: 300 });
    vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
    await commit(300, 301);
    await until(301);
    await commit(301, 310);
    await log.close();
    expect(verify(store)).toEqual({ problems: [], size: 310 });
    await sql.close();
  });

  it('a checkpoint published in the background never replaces a larger one that a receiver sharing the store published meanwhile', async () => {
    const store = tmp('recgw-logpub-');
    const a = await open(store);
    const b = await open(store);
    await commitTo(a, leaves(0, 10));
    // a reads the log at size 10 and writes its files; b commits and publishes 20 before a takes the lock to put its
    // checkpoint in place.
    let go: () => void = () => undefined;
    const bPublished = new Promise<void>((r) => (go = r));
    const tx = a.sql.transaction.bind(a.sql);
    a.sql.transaction = (async (fn: Parameters<typeof tx>[0], opts?: Parameters<typeof tx>[1]) => {
      if (opts?.lock === LOG_FILES_LOCK) await bPublished;
      return tx(fn, opts);
    }) as typeof tx;
    const behind = a.files.publish();
    await commitTo(b, leaves(10, 20));
    await b.files.publish();
    expect(publishedSize(store)).toBe(20);
    go();
    await behind;
    expect(publishedSize(store)).toBe(20);
    expect(verify(store)).toEqual({ problems: [], size: 20 });
    expect(readdirSync(join(store, 'log')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await a.sql.close();
    await b.sql.close();
  });

  it('witnesses are asked after a commit at once, then at most once per interval, and at close', async () => {
    fake();
    const wdir = join(tmp('recgw-logpub-w-'), 'w');
    const vkey = initWitness(wdir, 'witness.example/test', [readFileSync(p.logVkey, 'utf8')]).vkey;
    const server = new WitnessServer(new Witness(wdir), silentLogger);
    const url = await server.start(0);
    const store = tmp('recgw-logpub-');
    const sql = new SqliteReceiverSql(openReceiverDb(store));
    const cfg = { store, witnesses: [{ url, vkey }], agency: { caCert: p.caCert, logKey: p.logKey, logCert: p.logCert } } as unknown as ReceiverConfig;
    const log = await openReceiverLog({ cfg, caPem, caPems: [caPem], sql, now: new Date(), log: silentLogger });
    const witnessed = (): number => (existsSync(join(store, 'log', 'witnessed')) ? Number(readFileSync(join(store, 'log', 'witnessed'), 'utf8').split('\n')[1]) : -1);
    const until = async (size: number): Promise<void> => {
      for (let i = 0; i < 500 && witnessed() !== size; i++) await sleep(10);
      expect(witnessed()).toBe(size);
    };
    const commit = async (from: number, to: number): Promise<void> => {
      await sql.transaction((tx) => log.append(tx, leaves(from, to)));
      log.grew();
    };
    try {
      vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
      await commit(0, 3);
      await until(3);
      await commit(3, 5);
      await sleep(300);
      expect(witnessed()).toBe(3);
      vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
      await until(5);
      await commit(5, 9);
      await log.close();
      expect(witnessed()).toBe(9);
    } finally {
      await sql.close();
      await server.stop();
    }
  });
});
