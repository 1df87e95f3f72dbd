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
      'extra: unknown key (known: database, listen, tls, zone, login, ca, store, sampleSigning, units, gateways, auditAnchor, agencyKey, retention)',
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

describe('a day picked on a form', () => {
  it('begins at midnight in the zone', () => {
    expect(new Date(dayStart('2026-12-07', 'Asia/Shanghai')!).toISOString()).toBe('2026-12-06T16:00:00.000Z');
    // The day summer time begins in Berlin starts at +01:00.
    expect(new Date(dayStart('2026-03-29', 'Europe/Berlin')!).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(dayStart('2026-02-30', 'Asia/Shanghai')).toBeUndefined();
    expect(dayStart('7.12.2026', 'Asia/Shanghai')).toBeUndefined();
  });
});
