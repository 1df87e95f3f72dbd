/**
 * Retention deletions by receivers that coordinate through PostgreSQL (docs/operations.md §20, §22): a store received
 * through the receiver's code with its agency log in a real PostgreSQL; the remover refuses the session within its
 * term (nothing logged), deletes it a year and two days on (the event logged in PostgreSQL's log before the files go),
 * a second run of the same order makes no second event, and the store verifies VALID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, ensureBuilt, makeSamples, verify, type BuiltStore } from '../helpers/store-fixture.js';
import { receiveDeviceVia } from '../helpers/receiver-store.js';
import { createDatabase, withPostgres } from '../helpers/postgres.js';
import { attestedOrder, withRemover } from '../helpers/retention.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { openPostgresReceiverSql } from '../../src/receiver/postgres-receiver-sql.js';
import type { ReceiverSql } from '../../src/receiver/receiver-sql.js';
import { DELETIONS_FILE } from '../../src/evidence/deletion-event.js';
import type { DeletionOrder } from '../../src/receiver/retention-plan.js';

const DAY = 86_400_000;
const pg = withPostgres();

describe('retention deletions with the receivers on PostgreSQL', () => {
  let ca: ReturnType<typeof makeCa>;
  let one: BuiltStore;
  let store: string;
  let sql: ReceiverSql;
  let order: DeletionOrder;

  beforeAll(async () => {
    ensureBuilt();
    ca = makeCa();
    one = await buildStore({ caDir: ca.dir, samples: await makeSamples(), deviceId: 'room-1' });
    store = tmp('recgw-retention-pg-');
    sql = await openPostgresReceiverSql(await createDatabase(pg.server(), 'retention_receivers'), 'test PostgreSQL');
    await receiveDeviceVia(sql, one.deviceDir, store, ca.dir);
    order = attestedOrder(ca.dir, { request: 'pg-1', device: 'room-1', session: one.session.sessionId, termYears: 1, approval: { id: 'pg-1', proposer: 'officer1', approver: 'leader1', approvedAt: new Date().toISOString() } });
  }, 300_000);
  afterAll(async () => {
    await sql?.close();
    await closeSealWorker();
    cleanupTmp();
  });

  const readdirSegs = (): string[] => {
    const dir = join(store, 'room-1', 'segments');
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  };

  it('refuses within the term, deletes after it with the event logged first, once', async () => {
    const segs = readdirSegs();
    expect(segs.length).toBeGreaterThan(1);
    const size = async (): Promise<number> => Number((await sql.query<{ size: number | string }>('SELECT size FROM log_head WHERE id = 1'))[0]!.size);
    const before = await size();
    await expect(withRemover(ca.dir, store, () => Date.now(), (r) => r.delete(order), sql)).rejects.toThrow(/within its term/);
    expect(await size()).toBe(before);
    const later = Date.now() + 367 * DAY;
    const e = await withRemover(ca.dir, store, () => later, (r) => r.delete(order), sql);
    expect(e.files.map((f) => f.file).sort()).toEqual(segs.map((n) => `segments/${n}`).sort());
    expect(await size()).toBe(before + 1);
    expect(readdirSegs()).toEqual([]);
    const again = await withRemover(ca.dir, store, () => later + DAY, (r) => r.delete(order), sql);
    expect(again).toEqual(e);
    expect(await size()).toBe(before + 1);
    expect(readFileSync(join(store, 'room-1', DELETIONS_FILE), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    expect((await sql.query<{ state: string }>('SELECT state FROM retention_deletions'))).toEqual([{ state: 'removed' }]);
    const v = await verify(store, one);
    expect(v.findings).toEqual([]);
    expect(v.devices[0]!.retentionDeleted).toBe(segs.length);
  });
});
