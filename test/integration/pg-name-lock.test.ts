/**
 * A receiver's name lock in PostgreSQL (src/receiver/pg-name-lock.ts) outlives neither its session nor its host:
 * - its session killed by the server (pg_terminate_backend): the holder is told it lost the lock, and another
 *   receiver takes it at once;
 * - its host dead: the holder runs in a network namespace of its own (test/helpers/netns.ts) connected to a real
 *   PostgreSQL over a veth link; the link goes down and the process is killed, so no FIN or RST ever reaches the
 *   server, which learns of it only from TCP: the keepalives of an idle session (10 s idle, 5 s apart, 3 unanswered:
 *   25 s) or, when the host died before acknowledging the server's last answer, the session's TCP_USER_TIMEOUT
 *   (25 s; without it the server retransmitted for minutes and the lock stayed held). Another receiver, trying once
 *   a second and refused meanwhile with the holder's host and pid, takes the lock within a bound of 25 s plus the
 *   probes' slack. Needs root (ip netns), as CI has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { cleanupTmp, freePort, tmp } from '../helpers/fixtures.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { spawnWatched } from '../helpers/watched-process.js';
import { testHost, type TestHost } from '../helpers/netns.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../src/demo/throwaway-postgres.js';
import { lockNameInPostgres } from '../../src/receiver/pg-name-lock.js';
import type { HeldLock } from '../../src/state/folder-lock.js';

const HOLDER = join(import.meta.dirname, '../helpers/pg-lock-holder.js');
/** The keepalives' 25 s, and a margin for the probes' timers and this loaded machine. */
const BOUND_MS = 40_000;

describe('a PostgreSQL name lock whose holder is gone', () => {
  let host: TestHost;
  let server: ThrowawayPostgres;

  beforeAll(async () => {
    ensureBuilt();
    host = testHost('pgl');
    server = await startThrowawayPostgres({
      dir: tmp('recgw-pg-lock-'),
      port: await freePort(),
      alsoFrom: { listen: host.hostAddr, clients: `${host.peerAddr}/32` },
      spawn: (command, args, opts, onOutput) => spawnWatched(command, args, onOutput, { ...(opts.user ?? {}), cwd: opts.cwd }),
    });
  }, 60_000);

  afterAll(async () => {
    host?.stop();
    await server?.stop();
    cleanupTmp();
  });

  const refusal = (lost: (why: string) => void = () => undefined) => ({ inUse: 'receiver:1 is already running', fix: () => 'stop it first.', lost });
  const take = (lost?: (why: string) => void): Promise<HeldLock> => lockNameInPostgres(server.url, 'the test database', 'receiver:1', refusal(lost));

  it('is taken by another receiver at once when the server ends the holder\u2019s session, and the holder is told', async () => {
    const lost: string[] = [];
    const held = await take((why) => lost.push(why));
    await expect(take()).rejects.toThrow(/receiver:1 is already running: held by the receiver process .*:\d+ \(host:pid\)/);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>("SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name LIKE 'recgw-receiver@%'");
      expect(rows[0]!.n).toBe(1);
    } finally {
      await admin.end();
    }
    const other = await take();
    other.release();
    for (let i = 0; i < 50 && lost.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(lost.length).toBeGreaterThan(0);
    held.release();
  });

  /**
   * The holder on the second host, the host killed `after` ms after it took the lock: off the network first, then its
   * process, so nothing of its end reaches the server. Resolves with how long until another receiver took the lock.
   */
  async function hostDies(after: number): Promise<{ took: number; refusals: number }> {
    const url = server.url.replace('127.0.0.1', host.hostAddr);
    execFileSync('ip', ['-n', host.ns, 'link', 'set', host.peerIf, 'up']);
    const { child, line } = await host.start(process.execPath, [HOLDER, url, 'receiver:1']);
    expect(line).toBe('held');
    await expect(take()).rejects.toThrow(new RegExp(`held by the receiver process .*:${child.pid} \\(host:pid\\) connected from ${host.peerAddr.replace(/\./g, '\\.')}`));
    await new Promise((r) => setTimeout(r, after));
    const died = Date.now();
    execFileSync('ip', ['-n', host.ns, 'link', 'set', host.peerIf, 'down']);
    child.kill('SIGKILL');
    let held: HeldLock | undefined;
    let refusals = 0;
    while (!held && Date.now() - died < BOUND_MS + 5000) {
      try {
        held = await take();
      } catch (err) {
        expect((err as Error).message).toMatch(/already running/);
        refusals++;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const took = Date.now() - died;
    console.info(`[pg-name-lock] host dead ${after} ms after taking the lock: taken by another after ${(took / 1000).toFixed(1)} s (${refusals} refusals before)`);
    held?.release();
    return { took: held ? took : Infinity, refusals };
  }

  it('is taken by another receiver within 25 s and the probes\u2019 slack when the holder\u2019s host dies at once (its last answer unacknowledged)', async () => {
    const { took, refusals } = await hostDies(0);
    expect(refusals).toBeGreaterThan(5);
    expect(took).toBeLessThan(BOUND_MS);
  }, 90_000);

  it('is taken by another receiver within 25 s and the probes\u2019 slack when the holder\u2019s host dies while idle (keepalives)', async () => {
    const { took, refusals } = await hostDies(2000);
    expect(refusals).toBeGreaterThan(5);
    expect(took).toBeLessThan(BOUND_MS);
  }, 90_000);
});
