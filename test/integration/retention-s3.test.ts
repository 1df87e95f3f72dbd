/**
 * Retention deletions on an S3 store (docs/object-store.md; evidence-format.md §18): a receiver store made by the
 * receiver's code is put into a bucket on a real radosgw (the append-only files as pieces, through the store
 * interface) with its receivers' database in the receiver's working folder; a leader approves the deletion of the
 * expired session in the desk (test clock); `recgw retention apply` with the S3 receiver config signs and logs the
 * event and removes the files from the bucket; `recgw verify s3://…` finds the bucket VALID, and NOT VALID once the
 * event's pieces are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, ensureBuilt, makeSamples, type BuiltStore } from '../helpers/store-fixture.js';
import { receiveDevice } from '../helpers/receiver-store.js';
import { putFolder, withRadosgw } from '../helpers/radosgw.js';
import { DESK_ACCOUNTS, deskConfig } from '../helpers/desk.js';
import { cli } from '../helpers/index-store.js';
import { main } from '../../src/cli/main.js';
import { closeSealWorker } from '../../src/evidence/seal-worker.js';
import { provisionReceiver } from '../../src/demo/provision.js';
import { S3Store } from '../../src/store/s3-store.js';
import { openIndexDb } from '../../src/index/database.js';
import { Retention } from '../../src/desk/retention.js';
import { DeskAudit } from '../../src/desk/audit.js';
import { loadDeskConfig, readSampleSigner } from '../../src/desk/config.js';
import { readCaBundle } from '../../src/cli/args.js';
import { DELETIONS_FILE } from '../../src/evidence/deletion-event.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'recgw.js');
const DAY = 86_400_000;

describe('retention on an S3 store', () => {
  const rgw = withRadosgw();
  let ca: ReturnType<typeof makeCa>;
  let one: BuiltStore;
  let folder: string;
  let receiverConfig: string;
  let deskFile: string;
  const bucket = (): S3Store => {
    const s = rgw.server();
    return new S3Store({ endpoint: s.endpoint, bucket: s.bucket, prefix: 'ret/', accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  };
  const verifyBucket = (): { status: number | null; report: { ok: boolean; findings: { kind: string }[]; devices: { retentionDeleted?: number }[] } } => {
    const s = rgw.server();
    const r = spawnSync(process.execPath, [BIN, 'verify', `s3://${s.bucket}/ret`, '--s3-endpoint', s.endpoint, '--ca', ca.paths.caCert, '--json'], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey },
      encoding: 'utf8',
    });
    return { status: r.status, report: JSON.parse(r.stdout) as never };
  };

  beforeAll(async () => {
    ensureBuilt();
    ca = makeCa();
    one = await buildStore({ caDir: ca.dir, samples: await makeSamples(), deviceId: 'room-1' });
    folder = tmp('recgw-retention-s3-folder-');
    await receiveDevice(one.deviceDir, folder, ca.dir);
    // The store into the bucket through the store interface; the receivers' database into the working folder.
    const store = bucket();
    try {
      await putFolder(folder, store);
    } finally {
      await store.close();
    }
    const s = rgw.server();
    const rx = provisionReceiver({ dir: tmp('recgw-retention-s3-rx-'), caDir: ca.dir, name: 'receiver:s3', broker: 'mqtts://127.0.0.1:1', store: folder });
    const obj = JSON.parse(readFileSync(rx.configPath, 'utf8')) as Record<string, unknown>;
    obj.store = `s3://${s.bucket}/ret`;
    obj.work = join(dirname(rx.configPath), 'work');
    obj.s3 = { endpoint: s.endpoint, accessKey: s.accessKeyId, secretKey: s.secretAccessKey };
    writeFileSync(rx.configPath, JSON.stringify(obj, null, 2));
    spawnSync('mkdir', ['-p', obj.work as string]);
    copyFileSync(join(folder, 'receiver.db'), join(obj.work as string, 'receiver.db'));
    receiverConfig = rx.configPath;
    const database = `sqlite:${join(tmp('recgw-retention-s3-db-'), 'index.db')}`;
    expect((await cli('index', 'rebuild', '--store', folder, '--database', database, '--ca', ca.paths.caCert, '--quiet')).code).toBe(0);
    deskFile = await deskConfig(ca.dir, database, folder, { retention: { years: 1 }, sampleSigning: { key: ca.paths.receiptKey, cert: ca.paths.receiptCert } });
  }, 300_000);
  afterAll(async () => {
    await closeSealWorker();
    cleanupTmp();
  });

  it('an approved deletion removes the files from the bucket after its logged event; the bucket verifies', async () => {
    expect(verifyBucket().report.findings).toEqual([]);
    const clock = Date.now() + 367 * DAY;
    const config = loadDeskConfig(deskFile);
    const db = await openIndexDb(config.database);
    try {
      const retention = new Retention(db, new DeskAudit(db, () => clock, readSampleSigner(config)), () => clock, 1, config.zone, readCaBundle(config.ca));
      const asked = await retention.request({ name: DESK_ACCOUNTS['evidence-officer'], role: 'evidence-officer', ip: 'test' }, { kind: 'delete', sessions: [`room-1/${one.session.sessionId}`], reason: '保存期满，按制度删除' });
      await retention.decide({ name: DESK_ACCOUNTS.leader, role: 'leader', ip: 'test' }, asked.id, { approve: true });
    } finally {
      await db.close();
    }
    let out = '';
    let err = '';
    const code = await main(['retention', 'apply', '--config', receiverConfig, '--desk-config', deskFile], { out: (t) => void (out += t), err: (t) => void (err += t), now: () => clock });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`deleted room-1/${one.session.sessionId}`);
    const store = bucket();
    try {
      expect(await store.list('room-1/segments')).toEqual([]);
      expect((await store.read(`room-1/${DELETIONS_FILE}`))!.toString().split('\n').filter(Boolean)).toHaveLength(1);
    } finally {
      await store.close();
    }
    const v = verifyBucket();
    expect(v.report.findings).toEqual([]);
    expect(v.status).toBe(0);
    expect(v.report.devices[0]!.retentionDeleted).toBeGreaterThan(1);

    // The event's pieces removed from the bucket behind the receiver's back: the log still holds the event.
    const raw = bucket();
    try {
      await raw.remove(`room-1/${DELETIONS_FILE}`);
    } finally {
      await raw.close();
    }
    const gone = verifyBucket();
    expect(gone.status).toBe(1);
    expect([...new Set(gone.report.findings.map((f) => f.kind))].sort()).toEqual(['bad-deletion', 'missing-segment']);
  }, 120_000);
});
