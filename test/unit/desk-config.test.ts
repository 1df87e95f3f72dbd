/** The desk's config: each problem named with its key and the fix, all of them at once; paths taken relative to the file. */
import { describe, expect, it } from 'vitest';
import { parseDeskConfig } from '../../src/desk/config.js';
import { dayStart } from '../../src/util/local-time.js';

const GOOD = { database: 'sqlite:/var/lib/recgw/index.db', listen: { host: '127.0.0.1', port: 8443 }, tls: { cert: 'c.pem', key: 'k.pem' }, ca: 'ca.pem' };

describe('the desk config', () => {
  it('takes a good one, with defaults, paths relative to its folder', () => {
    expect(parseDeskConfig(GOOD, '/etc/recgw')).toEqual({
      ...GOOD,
      tls: { cert: '/etc/recgw/c.pem', key: '/etc/recgw/k.pem' },
      ca: '/etc/recgw/ca.pem',
      store: undefined,
      zone: 'Asia/Shanghai',
      login: { attempts: 5, windowSeconds: 300 },
      agencyKey: [],
    });
  });

  it('takes agencyKey as one key file or a list of them (a migration between suites), resolved against its folder', () => {
    expect(parseDeskConfig({ ...GOOD, agencyKey: 'agency-key.pem' }, '/etc/recgw').agencyKey).toEqual(['/etc/recgw/agency-key.pem']);
    expect(parseDeskConfig({ ...GOOD, agencyKey: ['intl/agency-key.pem', '/srv/gm/agency-key.pem'] }, '/etc/recgw').agencyKey).toEqual(['/etc/recgw/intl/agency-key.pem', '/srv/gm/agency-key.pem']);
  });

  it('names every problem with its key and what to do', () => {
    let message = '';
    try {
      parseDeskConfig({ database: 'mysql://x/y', listen: { port: 70000 }, tls: {}, zone: 'Mars/Base', login: { attempts: 0 }, units: 5, retention: { years: 0, months: 6 }, extra: 1 }, '/etc', 'desk.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n').map((l) => l.trim())).toEqual([
      'desk.json is not valid:',
      'extra: unknown key (known: database, listen, tls, zone, login, ca, store, s3, sampleSigning, units, gateways, auditAnchor, agencyKey, retention)',
      'database: the database URL\'s scheme "mysql:" is neither postgres: nor sqlite:: give postgres://USER:PASSWORD@HOST:PORT/DATABASE for PostgreSQL, or sqlite:PATH for an SQLite file',
      'listen.host: missing: give the address to listen on, e.g. "0.0.0.0" or "127.0.0.1"',
      'listen.port: must be a port number 0–65535 (443 or 8443, say)',
      "tls.cert: missing: give the PEM file of the desk's HTTPS certificate",
      "tls.key: missing: give the PEM file of the desk's HTTPS private key",
      'zone: "Mars/Base" is not a time zone: give an IANA name such as Asia/Shanghai',
      'login.attempts: must be a whole number of at least 1 (default 5)',
      'ca: missing: give the agency CA certificate (ca.pem) the verifier checks devices against',
      'units: must be the units file, e.g. "units.json" (which unit owns which device: {"units": [{"name": "朝阳分局", "devices": ["room-1"]}]}), or leave it out',
      'retention.months: unknown key (known: years)',
      'retention.years: must be a whole number of years, at least 1 (the minimum: recordings not used as evidence are kept at least one year, 004 规定 §10, 制度 §16) and at most 100; got 0',
    ]);
  });
});

describe('a store in a bucket', () => {
  const S3 = { endpoint: 'http://127.0.0.1:7480', accessKey: 'AK', secretKey: 'SK' };
  const problems = (o: Record<string, unknown>): string[] => {
    try {
      parseDeskConfig({ ...GOOD, ...o }, '/etc/recgw', 'desk.json');
    } catch (err) {
      return (err as Error).message.split('\n').slice(1).map((l) => l.trim());
    }
    return [];
  };

  it('takes s3://BUCKET/PREFIX with the s3 block, as the receiver’s, and the block alone for a store the index names', () => {
    const c = parseDeskConfig({ ...GOOD, store: 's3://evidence/zj/hz', s3: { ...S3, region: 'zj' } }, '/etc/recgw');
    expect(c.store).toBe('s3://evidence/zj/hz');
    expect(c.s3).toEqual({ endpoint: S3.endpoint, accessKeyId: 'AK', secretAccessKey: 'SK', region: 'zj' });
    expect(parseDeskConfig({ ...GOOD, s3: S3 }, '/etc/recgw').s3?.endpoint).toBe(S3.endpoint);
    expect(parseDeskConfig({ ...GOOD, store: 'store' }, '/etc/recgw')).toMatchObject({ store: '/etc/recgw/store', s3: undefined });
  });

  it('names each problem of the block and the location with its key, in English and Chinese', () => {
    expect(problems({ store: 's3://evidence/zj' })).toEqual(['s3: the store s3://evidence/zj is in S3: give s3 {endpoint, accessKey, secretKey}（存储位于对象存储（S3）：请填写 s3 的 endpoint、accessKey、secretKey）']);
    expect(problems({ store: '/srv/store', s3: S3 })).toEqual(['s3: the store /srv/store is a folder: s3 is only for an s3://BUCKET/PREFIX store（存储为目录时不应填写 s3；s3 仅用于 s3://存储桶/前缀 形式的存储）']);
    expect(problems({ store: 's3://E/x', s3: S3 })[0]).toMatch(/^store: "s3:\/\/E\/x" is not an S3 store location: .*（对象存储位置应写作 s3:\/\/存储桶\/前缀）$/);
    const bad = problems({ store: 's3://evidence', s3: { endpoint: 'ftp://x', accessKey: '', partMiB: 8 } });
    // The receiver's partMiB is not the desk's: it uploads nothing.
    expect(bad).toEqual([
      's3.secretKey: is required（必须填写）',
      's3.partMiB: is not a known setting (check the spelling)（不是已知的配置项（请检查拼写））',
      's3.endpoint: must match pattern "^https?://"（格式不正确（须符合 ^https?://））',
      's3.accessKey: must NOT have fewer than 1 characters（不能为空）',
    ]);
    expect(problems({ store: 's3://evidence', s3: { ...S3, caCert: 'no-such-ca.pem' } })).toEqual([
      expect.stringMatching(/^s3\.caCert: cannot read \/etc\/recgw\/no-such-ca\.pem .*（无法读取 \/etc\/recgw\/no-such-ca\.pem：请提供签发 S3 服务证书的 CA（PEM））$/),
    ]);
  });
});

describe('a day picked on a form', () => {
  it('begins at midnight in the zone', () => {
    expect(new Date(dayStart('2026-12-07', 'Asia/Shanghai')!).toISOString()).toBe('2026-12-06T16:00:00.000Z');
    // The day summer time begins in Berlin starts at +01:00.
    expect(new Date(dayStart('2026-03-29', 'Europe/Berlin')!).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(dayStart('2026-02-30', 'Asia/Shanghai')).toBeUndefined();
    expect(dayStart('7.12.2026', 'Asia/Shanghai')).toBeUndefined();
  });
});
