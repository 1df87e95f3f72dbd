/**
 * The supervisor's sample check (src/desk/samples.ts) over an SQLite index of the shared test store: the same seed
 * draws the same sample (another seed, by the ranking, may not), the checklist is prefilled from the index's facts,
 * and the signed report is checked with openssl against the signing certificate's public key, a changed byte failing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { H, buildIndexStore, cli, t0, type IndexStore } from '../helpers/index-store.js';
import { caPaths } from '../../src/pki/ca.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { KeySigner } from '../../src/evidence/signer.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { migrateIndex } from '../../src/index/migrate.js';
import { Samples, drawSessions } from '../../src/desk/samples.js';
import { parseDeskConfig, readSampleSigner } from '../../src/desk/config.js';

describe('the supervisor sample check', () => {
  let s: IndexStore;
  let db: IndexDb;
  const from = t0 - 48 * H;
  const to = t0 + H;

  beforeAll(async () => {
    s = await buildIndexStore();
    const url = `sqlite:${join(tmp('recgw-samples-db-'), 'index.db')}`;
    const r = await cli('index', 'rebuild', '--store', s.store, '--database', url, '--ca', caPaths(s.caDir).caCert, '--quiet');
    expect(r.code, r.err).toBe(0);
    db = await openIndexDb(url);
    await migrateIndex(db);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    cleanupTmp();
  });

  it('draws the same sample from the same seed, ceil(N %) of the period, and a different one from other seeds', async () => {
    const a = await drawSessions(db, from, to, 50, 'seed-1');
    const b = await drawSessions(db, from, to, 50, 'seed-1');
    expect(a.population).toBe(4);
    expect(a.items).toHaveLength(2);
    expect(b.items.map((i) => i.session)).toEqual(a.items.map((i) => i.session));
    const others = new Set<string>();
    for (let k = 0; k < 20; k++) others.add((await drawSessions(db, from, to, 50, `seed-${k}`)).items.map((i) => i.session).join(','));
    expect(others.size).toBeGreaterThan(1);
    expect((await drawSessions(db, from, to, 1, 'x')).items).toHaveLength(1);
    expect((await drawSessions(db, from, to, 100, 'x')).items.map((i) => i.session).sort()).toEqual(['S-A', 'S-B', 'S-C', 'S-D']);
    await expect(drawSessions(db, from, to, 0, 'x')).rejects.toThrow(/1 to 100/);
  });

  it('prefills the checklist from the index, and signs a report that openssl verifies', async () => {
    const samples = new Samples(db);
    const drawn = await samples.draw({ name: 'super1', fromMs: from, toMs: to, percent: 100, now: t0 });
    expect(drawn.seed).toMatch(/^[0-9a-f]{32}$/);
    const again = await drawSessions(db, from, to, 100, drawn.seed);
    expect(again.items).toEqual(drawn.items);
    const facts = Object.fromEntries(drawn.items.map((i) => [i.session, i.facts]));
    // S-A: a 5-min microphone gap nothing explains, two segments late; S-B terminated without a statement.
    expect(facts['S-A']).toEqual({ matterRecorded: true, uninterruptedOrExplained: false, handedOverInTime: false });
    expect(facts['S-B']!.uninterruptedOrExplained).toBe(false);
    expect(facts['S-D']!.handedOverInTime).toBe(false);

    const signer = new KeySigner(loadPrivateKey(caPaths(s.caDir).receiptKey, 'receipt key', ''), readFileSync(caPaths(s.caDir).receiptCert, 'utf8'));
    await expect(samples.sign(drawn.id, signer, 'super1', t0 + H)).rejects.toThrow(/every sampled session must be checked/);
    for (const [n, i] of drawn.items.entries()) await samples.check(drawn.id, n, { ...i.facts, note: n === 0 ? '麦克风 5 分钟缺口已核实' : '' }, 'super1', t0 + n);
    const signed = await samples.sign(drawn.id, signer, 'super1', t0 + H);
    await expect(samples.check(drawn.id, 0, { ...drawn.items[0]!.facts, note: 'x' }, 'super1', t0)).rejects.toThrow(/signed/);
    const report = JSON.parse(signed.report!) as { seed: string; items: { finding: { note: string } }[]; signed: { by: string } };
    expect(report).toMatchObject({ type: 'recgw.sample-check', seed: drawn.seed, percent: 100, population: 4, signed: { by: 'super1' } });
    expect(report.items[0]!.finding.note).toBe('麦克风 5 分钟缺口已核实');

    const dir = tmp('recgw-sample-report-');
    writeFileSync(join(dir, 'report.json'), signed.report!);
    writeFileSync(join(dir, 'report.sig'), Buffer.from(signed.signature!, 'base64'));
    execFileSync('openssl', ['x509', '-in', caPaths(s.caDir).receiptCert, '-pubkey', '-noout', '-out', join(dir, 'pub.pem')]);
    const ok = spawnSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'report.sig'), join(dir, 'report.json')], { encoding: 'utf8' });
    expect([ok.status, ok.stdout.trim()]).toEqual([0, 'Verified OK']);
    writeFileSync(join(dir, 'report.json'), signed.report!.replace('"percent":100', '"percent":10'));
    const bad = spawnSync('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'report.sig'), join(dir, 'report.json')], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });

  it('reads the sampleSigning key of the desk config, each problem named with its key and the fix', () => {
    const base = { database: 'sqlite:/tmp/x.db', listen: { host: '127.0.0.1', port: 0 }, tls: { cert: 'c.pem', key: 'k.pem' }, ca: 'ca.pem' };
    const dir = tmp('recgw-sample-signing-');
    const p = caPaths(s.caDir);
    copyFileSync(p.receiptKey, join(dir, 'key.pem'));
    chmodSync(join(dir, 'key.pem'), 0o600);
    copyFileSync(p.receiptCert, join(dir, 'cert.pem'));
    copyFileSync(p.caCert, join(dir, 'other-cert.pem'));
    const signer = (sampleSigning: unknown) => () => readSampleSigner(parseDeskConfig({ ...base, sampleSigning }, dir));

    expect(readSampleSigner(parseDeskConfig(base, dir))).toBeUndefined();
    expect(signer({ key: 'key.pem', cert: 'cert.pem' })()!.certificatePem).toBe(readFileSync(p.receiptCert, 'utf8'));
    expect(signer('key.pem')).toThrow(/sampleSigning: must be an object \{ "key": "sample-key.pem", "cert": "sample-cert.pem" \}/);
    expect(signer({ key: 'key.pem' })).toThrow(/sampleSigning.cert: missing: give the PEM file of that key's certificate/);
    expect(signer({ key: 'key.pem', cert: 'cert.pem', pass: 'x' })).toThrow(/sampleSigning.pass: unknown key/);
    expect(signer({ key: 'nope.pem', cert: 'cert.pem' })).toThrow(/sampleSigning.key in the desk config: cannot read .*nope.pem/);
    expect(signer({ key: 'cert.pem', cert: 'cert.pem' })).toThrow(/sampleSigning.key in the desk config: .*cert.pem is readable by others/);
    chmodSync(join(dir, 'cert.pem'), 0o600);
    expect(signer({ key: 'cert.pem', cert: 'cert.pem' })).toThrow(/sampleSigning.key in the desk config: .*is not a PEM private key .*give the key file, not the certificate/);
    expect(signer({ key: 'key.pem', cert: 'other-cert.pem' })).toThrow(/sampleSigning.cert in the desk config: .*other-cert.pem is not the certificate of the key/);
    expect(signer({ key: 'key.pem', cert: 'key.pem' })).toThrow(/sampleSigning.cert in the desk config: .*is not a PEM certificate/);
    chmodSync(join(dir, 'key.pem'), 0o644);
    expect(signer({ key: 'key.pem', cert: 'cert.pem' })).toThrow(/chmod 600 .*key.pem/);
  });
});
