/**
 * A receiver's config as an operator meets it (issue 15 item 8): `recgw config check` knows a receiver config from a
 * gateway's and checks it as `recgw receiver` would start with it; a receiver whose files are missing says which
 * file under which key, exit 2, no stack trace, before it touches its store's database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { makeReceiver } from '../helpers/uplink-world.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { receiverDbPath } from '../../src/receiver/store-db.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = readFileSync(join(ROOT, 'config', 'receiver.json'), 'utf8');

function recgw(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'recgw.js'), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, RECGW_LOG_LEVEL: 'error' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStack = (text: string): void => expect(text).not.toMatch(/\n\s+at |unexpected error/);

describe('receiver configs', () => {
  const ca = makeCa();
  let rx: ReturnType<typeof makeReceiver>;
  let dir: string;

  beforeAll(() => {
    ensureBuilt();
    rx = makeReceiver(ca.dir, 'receiver:1', 'mqtts://127.0.0.1:8883');
    dir = tmp('recgw-rxconf-');
  }, 120_000);
  afterAll(cleanupTmp);

  /** config/receiver.json as shipped, with this test's files in place of /etc/recgw-receiver/... and its store. */
  function example(edit: (text: string) => string = (t) => t): string {
    const c = rx.config;
    const text = EXAMPLE.replace('/var/lib/recgw-receiver/store', join(dir, 'store'))
      .replace('/etc/recgw-receiver/receiver-1.pem', c.tls.cert)
      .replace('/etc/recgw-receiver/receiver-1-key.pem', c.tls.key)
      .replace('/etc/recgw-receiver/ca.pem', c.agency.caCert)
      .replace('/etc/recgw-receiver/receipt-key.pem', c.agency.receiptKey)
      .replace('/etc/recgw-receiver/receipt.pem', c.agency.receiptCert)
      .replace('/etc/recgw-receiver/log-key.pem', c.agency.logKey)
      .replace('/etc/recgw-receiver/log.pem', c.agency.logCert)
      .replace('/etc/recgw-receiver/agency-enc.pem', c.agency.encryptionCerts[0]!);
    expect(text).not.toContain('/etc/recgw-receiver');
    const file = join(dir, 'receiver.json');
    writeFileSync(file, edit(text));
    return file;
  }

  it('config check passes the example receiver config given its files, and names what it checked', () => {
    const file = example();
    const r = recgw('config', 'check', '--config', file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${file}: valid (receiver receiver:1, store ${join(dir, 'store')}, broker mqtts://mqtt.scjg.example.gov.cn:8883)\n`);
    // Checking changes nothing: no store is made.
    expect(existsSync(join(dir, 'store'))).toBe(false);
  });

  it('config check refuses a receiver config by the receiver schema, naming the key', () => {
    const file = example((t) => t.replace('"name": "receiver:1"', '"name": "rx1"').replace('"heldMiB": 512', '"heldMiB": "lots"'));
    const r = recgw('config', 'check', '--config', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`config file ${file} is invalid`);
    expect(r.stderr).toMatch(/\n {2}name: .*receiver:<label>/);
    expect(r.stderr).toMatch(/\n {2}limits\.heldMiB: /);
    noStack(r.stderr);
  });

  it('config check takes a PostgreSQL `database` and refuses any other, naming the key and the form to give, never the password', () => {
    const withDb = (url: string): string => example((t) => t.replace('"broker":', `"database": ${JSON.stringify(url)},\n  "broker":`));
    expect(recgw('config', 'check', '--config', withDb('postgres://recgw:s3cret@db.agency.example:5432/recgw')).status).toBe(0);
    for (const [url, why] of [
      ['mysql://recgw:s3cret@db.agency.example/recgw', /scheme "mysql:" is neither postgres: nor sqlite:/],
      ['sqlite:/var/lib/recgw-receiver/other.db', /is not a PostgreSQL URL/],
      ['postgres://recgw:s3cret@/recgw', /"postgres:\/\/recgw:\*\*\*@\/recgw" is not a URL/],
    ] as const) {
      const file = withDb(url);
      const r = recgw('config', 'check', '--config', file);
      expect(r.status, url).toBe(2);
      expect(r.stderr).toContain(`config file ${file} is invalid`);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/\n {2}database: .*give postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE, or leave the key out/);
      expect(r.stderr).not.toContain('s3cret');
      noStack(r.stderr);
    }
  });

  it('`recgw receiver` with a database that does not answer exits 2 saying where and what to fix, never the password', () => {
    const file = example((t) => t.replace('"broker":', `"database": "postgres://recgw:s3cret@127.0.0.1:1/recgw",\n  "broker":`));
    const r = recgw('receiver', '--config', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('cannot reach the PostgreSQL database recgw at 127.0.0.1:1: the connection was refused');
    expect(r.stderr).not.toContain('s3cret');
    noStack(r.stderr);
  });

  it('config check refuses what the receiver would refuse at start: a certificate of another name', () => {
    const other = makeReceiver(ca.dir, 'receiver:2', 'mqtts://127.0.0.1:8883').config.tls;
    const file = example((t) => t.replace(rx.config.tls.cert, other.cert).replace(rx.config.tls.key, other.key));
    const r = recgw('config', 'check', '--config', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`receiver certificate ${other.cert} is not usable as receiver receiver:1`);
    noStack(r.stderr);
  });

  it('missing files: config check and `recgw receiver` exit 2 naming each file and its key, and open no database', () => {
    const gone = join(dir, 'gone');
    const file = example((t) => t.replace(rx.config.tls.key, join(gone, 'receiver-1-key.pem')).replace(rx.config.agency.caCert, join(gone, 'ca.pem')).replace(rx.config.agency.encryptionCerts[0]!, join(gone, 'agency-enc.pem')));
    const expected = [
      `tls.key: ${join(gone, 'receiver-1-key.pem')} does not exist: give this receiver's client key`,
      `agency.caCert: ${join(gone, 'ca.pem')} does not exist: give the agency CA certificate (ca.pem)`,
      `agency.encryptionCerts[0]: ${join(gone, 'agency-enc.pem')} does not exist: give the agency's encryption certificate (agency-enc.pem)`,
    ];
    for (const args of [['config', 'check'], ['receiver']]) {
      const r = recgw(...args, '--config', file);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`config file ${file} is invalid`);
      for (const line of expected) expect(r.stderr).toContain(line);
      noStack(r.stderr);
    }
    expect(existsSync(receiverDbPath(join(dir, 'store')))).toBe(false);
  });
});
