/**
 * The S3 store as an operator names it: the receiver config's `store: "s3://…"` with `s3` and `work`, `recgw verify
 * s3://…` and `recgw index rebuild s3://…`. What is missing or malformed is refused before anything connects, naming the key or flag and what to give.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { openStore, parseS3Location } from '../../src/store/open-store.js';
import { FolderStore } from '../../src/store/folder-store.js';
import { storeWhere } from '../../src/store/devices.js';
import { parseReceiverConfig } from '../../src/receiver/config.js';
import { verifyCommand } from '../../src/cli/verify.js';
import { indexCommand } from '../../src/cli/agency-index.js';
import { RecgwError } from '../../src/util/errors.js';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';

const base = { name: 'receiver:1', store: 's', broker: 'mqtts://b:8883', tls: { cert: 'c', key: 'k' }, agency: { caCert: 'a', receiptKey: 'r', receiptCert: 'rc', logKey: 'lk', logCert: 'lc', encryptionCerts: ['ec'] } };
const s3 = { endpoint: 'http://127.0.0.1:7480', accessKey: 'AK', secretKey: 'SK' };
const parse = (over: Record<string, unknown>): ReturnType<typeof parseReceiverConfig> => parseReceiverConfig({ ...structuredClone(base), ...over }, '/etc/recgw/receiver.json');

describe('an S3 store in the receiver config', () => {
  it('takes s3://BUCKET/PREFIX with the service and a working folder; a folder store works in itself', () => {
    const c = parse({ store: 's3://evidence/zj/hz', s3, work: 'rx-work' });
    expect(c.store).toBe('s3://evidence/zj/hz');
    expect(c.work).toBe('/etc/recgw/rx-work');
    // Parts of the multipart uploads: 8 MiB unless s3.partMiB says, at least S3's 5 MiB.
    expect(c.s3).toEqual({ endpoint: 'http://127.0.0.1:7480', accessKeyId: 'AK', secretAccessKey: 'SK', partMiB: 8 });
    expect(parse({ store: 's3://evidence/zj/hz', s3: { ...s3, partMiB: 16 }, work: 'rx-work' }).s3?.partMiB).toBe(16);
    expect(() => parse({ store: 's3://evidence/zj/hz', s3: { ...s3, partMiB: 4 }, work: 'rx-work' })).toThrow(/partMiB/);
    const f = parse({});
    expect(f.store).toBe('/etc/recgw/s');
    expect(f.work).toBe('/etc/recgw/s');
    expect(f.s3).toBeUndefined();
  });

  it('refuses an S3 store without its service or working folder, a malformed location, and s3 on a folder store, naming the key', () => {
    expect(() => parse({ store: 's3://evidence/p', work: 'w' })).toThrow(/s3: the store s3:\/\/evidence\/p is in S3: give s3 \{endpoint, accessKey, secretKey\}/);
    expect(() => parse({ store: 's3://evidence/p', s3 })).toThrow(/work: the store s3:\/\/evidence\/p is in S3: give work/);
    expect(() => parse({ store: 's3://E/p', s3, work: 'w' })).toThrow(/store: "s3:\/\/E\/p" is not an S3 store location: write s3:\/\/BUCKET/);
    expect(() => parse({ store: 's3://evidence/../up', s3, work: 'w' })).toThrow(/store: the prefix of/);
    expect(() => parse({ s3 })).toThrow(/s3: the store .* is a folder: s3 is only for an s3:\/\/BUCKET\/PREFIX store/);
    expect(() => parse({ store: 's3://evidence/p', s3: { ...s3, endpoint: 'ftp://x' }, work: 'w' })).toThrow(/s3\.endpoint|s3\/endpoint|endpoint/);
    expect(() => parse({ store: 's3://evidence/p', s3: { ...s3, caCert: '/nonexistent/ca.pem' }, work: 'w' })).toThrow(/s3\.caCert: cannot read \/nonexistent\/ca\.pem/);
  });
});

describe('recgw verify s3://…', () => {
  const ca = makeCa();
  const io = { out: (): void => undefined, err: (): void => undefined };
  const run = (args: string[]): Promise<number> => verifyCommand([...args, '--ca', ca.paths.caCert], io);

  it('needs --s3-endpoint and the keys in the environment, and says so before connecting', async () => {
    await expect(run(['s3://evidence/p'])).rejects.toThrow(/needs --s3-endpoint/);
    await expect(run(['s3://evidence/p', '--s3-endpoint', 'rgw:7480'])).rejects.toThrow(/needs --s3-endpoint http\(s\):\/\/HOST:PORT/);
    const saved = { a: process.env.AWS_ACCESS_KEY_ID, s: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const err = await run(['s3://evidence/p', '--s3-endpoint', 'http://127.0.0.1:1']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecgwError);
      expect((err as RecgwError).exitCode).toBe(2);
      expect(String(err)).toMatch(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    } finally {
      if (saved.a !== undefined) process.env.AWS_ACCESS_KEY_ID = saved.a;
      if (saved.s !== undefined) process.env.AWS_SECRET_ACCESS_KEY = saved.s;
    }
  });

  it('a service that does not answer is a clear storage error naming where, not a stack trace', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AK';
    process.env.AWS_SECRET_ACCESS_KEY = 'SK';
    try {
      await expect(run(['s3://evidence/p', '--s3-endpoint', 'http://127.0.0.1:1'])).rejects.toThrow(/could not read s3:\/\/evidence\/p\/ at http:\/\/127\.0\.0\.1:1/);
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  }, 30_000);
});

describe('recgw index rebuild s3://…', () => {
  const io = { out: (): void => undefined, err: (): void => undefined };
  const db = (): string => `sqlite:${join(tmp('recgw-index-s3-unit-'), 'index.db')}`;
  const run = (args: string[]): Promise<number> => indexCommand(['rebuild', ...args, '--database', db()], io);
  afterAll(cleanupTmp);

  it('takes the --s3-* options and keys as recgw verify does, and one store only', async () => {
    await expect(run(['s3://evidence/p'])).rejects.toThrow(/an s3:\/\/ store needs --s3-endpoint http\(s\):\/\/HOST:PORT\nusage: recgw index rebuild/);
    await expect(run(['--store', 's3://evidence/p', '--s3-endpoint', 'rgw:7480'])).rejects.toThrow(/needs --s3-endpoint http\(s\):\/\/HOST:PORT/);
    await expect(run(['--store', tmp('recgw-a-'), tmp('recgw-b-')])).rejects.toThrow(/give exactly one store \(a folder or s3:\/\/BUCKET\/PREFIX\)/);
    await expect(run([])).rejects.toThrow(/give exactly one store/);
    const saved = { a: process.env.AWS_ACCESS_KEY_ID, s: process.env.AWS_SECRET_ACCESS_KEY };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const err = await run(['s3://evidence/p', '--s3-endpoint', 'http://127.0.0.1:1']).catch((e: unknown) => e);
      expect([(err as RecgwError).exitCode, String(err)]).toEqual([2, expect.stringMatching(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)]);
    } finally {
      if (saved.a !== undefined) process.env.AWS_ACCESS_KEY_ID = saved.a;
      if (saved.s !== undefined) process.env.AWS_SECRET_ACCESS_KEY = saved.s;
    }
  });

  it('a service that does not answer is a clear storage error naming where, not a stack trace; a malformed location is refused', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AK';
    process.env.AWS_SECRET_ACCESS_KEY = 'SK';
    try {
      const err = await run(['s3://evidence/p', '--s3-endpoint', 'http://127.0.0.1:1']).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecgwError);
      expect(String(err)).toMatch(/could not read s3:\/\/evidence\/p\/ at http:\/\/127\.0\.0\.1:1/);
      await expect(run(['s3://E/p', '--s3-endpoint', 'http://127.0.0.1:1'])).rejects.toThrow(/"s3:\/\/E\/p" is not an S3 store location/);
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  }, 30_000);
});

describe("the index's record of a bucket store (index_meta store)", () => {
  it('is s3://BUCKET/PREFIX without a trailing slash, which parseS3Location reads back to the same bucket and prefix', async () => {
    const keys = { endpoint: 'http://127.0.0.1:1', accessKeyId: 'AK', secretAccessKey: 'SK' };
    for (const [location, where] of [
      ['s3://evidence/zj/hz', 's3://evidence/zj/hz'],
      ['s3://evidence/zj/hz/', 's3://evidence/zj/hz'],
      ['s3://evidence', 's3://evidence'],
    ] as const) {
      const store = openStore(location, keys);
      try {
        expect(storeWhere(store)).toBe(where);
        expect(parseS3Location(storeWhere(store))).toEqual(parseS3Location(location));
      } finally {
        await store.close();
      }
    }
    expect(storeWhere(new FolderStore('relative/store'))).toBe(resolve('relative/store'));
  });
});
