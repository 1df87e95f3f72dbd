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
import { LogFiles } from '../../src/receiver/log-files.js';
import { Pacer } from '../../src/receiver/pacer.js';
import { PUBLISH_INTERVAL_MS, openReceiverLog } from '../../src/receiver/receiver-log.js';
import { caPaths, logOrigin } from '../../src/pki/ca.js';
import { readLogView } from '../../src/verify/log-view.js';
import { CHECKPOINT_FILE } from '../../src/tlog/tiles.js';
import type { ReceiverConfig } from '../../src/receiver/config.js';
import type { LogLeaf } from '../../src/evidence/log-leaf.js';
import type { Db } from '../../src/state/db.js';
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

/** One receiver's view of a store: its connection, log and files, as openReceiverLog builds them. */
function open(store: string): { db: Db; log: AgencyLog; files: LogFiles } {
  const db = openReceiverDb(store);
  const log = new AgencyLog(db, createPrivateKey(readFileSync(p.logKey, 'utf8')), logOrigin(caPem));
  const files = new LogFiles(store, db, log);
  files.republish(readFileSync(p.logCert, 'utf8'));
  return { db, log, files };
}

/** The verifier's problems with the published log, and the size its checkpoint gives. */
function verify(store: string): { problems: string[]; size: number | undefined } {
  const problems: string[] = [];
  const view = readLogView(join(store, 'log'), [caPem], [], new Set(), (d) => problems.push(d));
  return { problems, size: view?.size };
}

const publishedSize = (store: string): number => Number(readFileSync(join(store, 'log', CHECKPOINT_FILE), 'utf8').split('\n')[1]);

describe('the published agency log', () => {
  it('stays exact above level 0, across an append that rolled back after completing tiles and a restart', () => {
    const store = tmp('recgw-logpub-');
    const a = open(store);
    const append = (r: { db: Db; log: AgencyLog; files: LogFiles }, ls: LogLeaf[]): void => {
      r.db.transaction(() => r.log.append(ls)).immediate();
      r.files.publish();
    };
    // Level 1 is 7 hashes wide at 1,900 leaves.
    for (let from = 0; from < 1_900; from += 190) append(a, leaves(from, from + 190));
    // Completes the eighth level-0 tile (its level-1 hash is computed for the root and the proof), then rolls back.
    expect(() =>
      a.db
        .transaction(() => {
          a.log.append(leaves(1_900, 2_100, 'gone'));
          a.log.proof(2_099, 2_100, a.log.head().checkpoint);
          throw new Error('the bookkeeping failed');
        })
        .immediate(),
    ).toThrow('the bookkeeping failed');
    // Other leaves take those places, a few at a time, each commit published.
    for (let from = 1_900, n = 1; from < 2_100; from += n, n = (n % 37) + 1) append(a, leaves(from, Math.min(2_100, from + n), 'kept'));
    expect(verify(store)).toEqual({ problems: [], size: 2_100 });
    expect(readFileSync(join(store, 'log', CHECKPOINT_FILE), 'utf8')).toBe(a.log.head().checkpoint);

    // A receiver started again on the store (nothing remembered) and the first one, in turn.
    const b = open(store);
    append(b, leaves(2_100, 2_400, 'b'));
    append(a, leaves(2_400, 2_410, 'a2'));
    append(b, leaves(2_410, 2_700, 'b2'));
    expect(verify(store)).toEqual({ problems: [], size: 2_700 });
    a.db.close();
    b.db.close();
  });

  it('a partial tile cut short by a crash while it was written is written again when the receiver starts', () => {
    const store = tmp('recgw-logpub-');
    const a = open(store);
    a.db.transaction(() => a.log.append(leaves(0, 700))).immediate();
    a.files.publish();
    const level1 = join(store, 'log', 'tile', '1', '000.p', '2');
    writeFileSync(level1, readFileSync(level1).subarray(0, 10));
    a.db.close();
    const b = open(store);
    expect(verify(store)).toEqual({ problems: [], size: 700 });
    b.db.close();
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
    const db = openReceiverDb(store);
    const cfg = { store, witnesses: [], agency: { caCert: p.caCert, logKey: p.logKey, logCert: p.logCert } } as unknown as ReceiverConfig;
    const log = openReceiverLog({ cfg, caPem, caPems: [caPem], db, now: new Date(), log: silentLogger });
    const until = async (size: number): Promise<void> => {
      for (let i = 0; i < 500 && publishedSize(store) !== size; i++) await sleep(10);
      expect(publishedSize(store)).toBe(size);
    };
    const commit = (from: number, to: number): void => {
      db.transaction(() => log.append(leaves(from, to))).immediate();
      log.grew();
    };
    expect(publishedSize(store)).toBe(0);
    commit(0, 3);
    await until(3);
    commit(3, 5);
    commit(5, 300);
    await sleep(200);
    expect(publishedSize(store)).toBe(3);
    vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
    await until(300);
    expect(verify(store)).toEqual({ problems: [], size: 300 });
    vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
    commit(300, 301);
    await until(301);
    commit(301, 310);
    await log.close();
    expect(verify(store)).toEqual({ problems: [], size: 310 });
    db.close();
  });

  it('a checkpoint published in the background never replaces a larger one that a receiver sharing the store published meanwhile', async () => {
    const store = tmp('recgw-logpub-');
    const a = open(store);
    const b = open(store);
    a.db.transaction(() => a.log.append(leaves(0, 10))).immediate();
    const behind = a.files.publishInBackground(); // read at size 10; its files are being written
    b.db.transaction(() => b.log.append(leaves(10, 20))).immediate();
    b.files.publish();
    expect(publishedSize(store)).toBe(20);
    await behind;
    expect(verify(store)).toEqual({ problems: [], size: 20 });
    expect(readdirSync(join(store, 'log')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    a.db.close();
    b.db.close();
  });

  it('witnesses are asked after a commit at once, then at most once per interval, and at close', async () => {
    fake();
    const wdir = join(tmp('recgw-logpub-w-'), 'w');
    const vkey = initWitness(wdir, 'witness.example/test', [readFileSync(p.logVkey, 'utf8')]).vkey;
    const server = new WitnessServer(new Witness(wdir), silentLogger);
    const url = await server.start(0);
    const store = tmp('recgw-logpub-');
    const db = openReceiverDb(store);
    const cfg = { store, witnesses: [{ url, vkey }], agency: { caCert: p.caCert, logKey: p.logKey, logCert: p.logCert } } as unknown as ReceiverConfig;
    const log = openReceiverLog({ cfg, caPem, caPems: [caPem], db, now: new Date(), log: silentLogger });
    const witnessed = (): number => (existsSync(join(store, 'log', 'witnessed')) ? Number(readFileSync(join(store, 'log', 'witnessed'), 'utf8').split('\n')[1]) : -1);
    const until = async (size: number): Promise<void> => {
      for (let i = 0; i < 500 && witnessed() !== size; i++) await sleep(10);
      expect(witnessed()).toBe(size);
    };
    const commit = (from: number, to: number): void => {
      db.transaction(() => log.append(leaves(from, to))).immediate();
      log.grew();
    };
    try {
      vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
      commit(0, 3);
      await until(3);
      commit(3, 5);
      await sleep(300);
      expect(witnessed()).toBe(3);
      vi.advanceTimersByTime(PUBLISH_INTERVAL_MS);
      await until(5);
      commit(5, 9);
      await log.close();
      expect(witnessed()).toBe(9);
    } finally {
      db.close();
      await server.stop();
    }
  });
});
