/**
 * The desk's audit chain anchored with a witness (src/desk/audit-anchor.ts): a real `recgw witness serve` follows the
 * chain as a log (its Ed25519 key made with the openssl command line, its verifier key printed by `recgw desk
 * audit-vkey` and checked against openssl's public key); the desk offers the chain's head at its start, and `recgw desk
 * audit-check` and the /audit page offer it again as the chain grows (the page shows the witness's answer). The attacker holds the desk's signing key and the database: the
 * chain made again from row 2 on, hashes and signatures and all, is whole to the chain's own check, and refused by the
 * witness (audit-check exit 1, "rows were rewritten"); rows cut off at the end are refused too; put back, the chain
 * passes again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, freePort, makeCa, tmp } from '../helpers/fixtures.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { initWitness, serveWitness, type TestWitness } from '../helpers/witness.js';
import { DESK_ACCOUNTS, cli as deskCli, signedIn, startDesk, type TestDesk } from '../helpers/desk.js';
import { caPaths } from '../../src/pki/ca.js';
import { openIndexDb, type IndexDb } from '../../src/index/database.js';
import { auditRecord, sha256 } from '../../src/desk/audit.js';
import { checkAudit } from '../../src/desk/audit-check.js';
import { loadDeskConfig, readSampleSigner } from '../../src/desk/config.js';
import { parseVkey } from '../../src/tlog/note.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const recgw = (...args: string[]): string => execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
const ORIGIN = 'sfj.example.gov.cn/desk-audit';

type AuditDbRow = { seq: number; at_ms: number; name: string; action: string; ip: string; detail: string; prev_sha256: string | null; sha256: string; signature: string | null; cert_sha256: string | null; id: string };

describe('the desk audit chain anchored with a witness', () => {
  let ca: ReturnType<typeof makeCa>;
  let witness: TestWitness;
  let desk: TestDesk;
  let db: IndexDb;

  beforeAll(async () => {
    ensureBuilt();
    ca = makeCa();
    const dir = tmp('recgw-anchor-');
    const key = join(dir, 'desk-audit-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
    // The witness first (its key is in the desk's config), then the desk's chain made known to it.
    const w = initWitness('procuratorate.example.gov.cn/w1');
    const wvkey = w.vkeyText;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const anchor = { key, origin: ORIGIN, witnesses: [{ url, vkey: wvkey }], minutes: 1 };
    const probe = join(dir, 'probe.json');
    writeFileSync(probe, JSON.stringify({ database: 'sqlite:x.db', listen: { host: '127.0.0.1', port: 0 }, tls: { cert: 'c', key: 'k' }, ca: caPaths(ca.dir).caCert, auditAnchor: anchor }));
    const vkey = recgw('desk', 'audit-vkey', '--config', probe).trim();
    // The same public key as openssl derives from the private key (the last 32 bytes of its SPKI DER).
    const spki = execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER']);
    const v = parseVkey(vkey);
    if ('why' in v) throw new Error(v.why);
    expect(v.name).toBe(ORIGIN);
    expect(Buffer.from(v.key.export({ format: 'der', type: 'spki' })).subarray(-32)).toEqual(spki.subarray(-32));
    writeFileSync(join(dir, 'desk-audit.vkey'), `${vkey}\n`);
    expect(recgw('witness', 'trust', '--state', w.dir, '--log', join(dir, 'desk-audit.vkey'))).toContain(`Now following log ${ORIGIN}`);
    witness = await serveWitness(w, port);
    expect(witness.url).toBe(url);
    const dbUrl = `sqlite:${join(dir, 'index.db')}`;
    desk = await startDesk(ca.dir, dbUrl, tmp('recgw-empty-store-'), { sampleSigning: { key: caPaths(ca.dir).receiptKey, cert: caPaths(ca.dir).receiptCert }, auditAnchor: anchor });
    db = await openIndexDb(dbUrl);
  }, 120_000);

  afterAll(async () => {
    await desk?.stop();
    await db?.close();
    await witness?.stop();
    cleanupTmp();
  });

  const check = () => deskCli(['desk', 'audit-check', '--config', desk.configFile]);
  const witnessed = (): string => recgw('witness', 'show', '--state', witness.dir);
  const rows = () => db.query<AuditDbRow>('SELECT * FROM desk_audit ORDER BY seq');

  it('is cosigned at the desk start and by audit-check as it grows; a chain remade with the desk key, and one cut short, are refused', async () => {
    // The desk offered its head (the four accounts the helper added) at its start.
    for (let i = 0; i < 100 && !witnessed().includes(`${ORIGIN}: 4 leaves`); i++) await new Promise((r) => setTimeout(r, 100));
    expect(witnessed()).toContain(`${ORIGIN}: 4 leaves`);

    const c = await signedIn(desk.base, DESK_ACCOUNTS.leader);
    expect((await c.get('/sessions?party=公司')).status).toBe(200);
    expect((await c.get('/stats')).status).toBe(200);
    let r = await check();
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("anchored: witness procuratorate.example.gov.cn/w1 cosigned the chain's 7 rows")]);
    expect(witnessed()).toContain(`${ORIGIN}: 7 leaves`);
    // The /audit page offers the head too, and shows what the witness answered.
    let page = await c.get('/audit');
    expect(page.text).toMatch(/id="audit-anchor" class="ontime" data-anchored="1"/);
    expect(page.text).toContain('见证方 procuratorate.example.gov.cn/w1 已联署本链前 7 条，与其此前联署的一致。');

    // The attacker, with the desk's signing key: the search of row 6 made to say something else, every row from
    // there made again (hash, link, signature), so that the chain's own check finds it whole.
    const genuine = await rows();
    const signer = readSampleSigner(loadDeskConfig(desk.configFile))!;
    let prev = genuine[4]!.sha256;
    for (const t of genuine.slice(5)) {
      const detail = t.seq === 6 ? { party: '别的公司', rows: 0 } : (JSON.parse(t.detail) as Record<string, unknown>);
      const text = auditRecord({ seq: t.seq, at: Number(t.at_ms), name: t.name, action: t.action, ip: t.ip, detail, prev });
      const signature = signer.sign(Buffer.from(text, 'utf8')).toString('base64');
      await db.query('UPDATE desk_audit SET detail = $1, prev_sha256 = $2, sha256 = $3, signature = $4 WHERE seq = $5', [JSON.stringify(detail), prev, sha256(text), signature, t.seq]);
      prev = sha256(text);
    }
    const alone = await checkAudit(db, [readFileSync(caPaths(ca.dir).caCert, 'utf8')]);
    expect([alone.ok, alone.entries, alone.signed]).toEqual([true, 7, 7]);
    r = await check();
    expect(r.code).toBe(1);
    expect(r.out).toContain('the desk audit chain is whole: 7 rows, 7 signed');
    expect(r.out).toContain("witness procuratorate.example.gov.cn/w1 refused the chain's 7 rows as inconsistent with the rows it cosigned before: rows were rewritten");
    page = await c.get('/audit');
    expect(page.text).toMatch(/id="audit-check" class="ontime" data-ok="1"/);
    expect(page.text).toMatch(/id="audit-anchor" class="late" data-anchored="0"/);
    expect(page.text).toContain('rows were rewritten');
    // The witness keeps the forged checkpoint as evidence, and still stands by the genuine chain.
    expect(readdirSync(join(witness.dir, 'evidence')).length).toBeGreaterThan(0);
    expect(witnessed()).toContain(`${ORIGIN}: 7 leaves`);
    // Remade and grown by a row: still a fork of what the witness cosigned.
    expect((await c.get('/stats')).status).toBe(200);
    r = await check();
    expect([r.code, r.out]).toEqual([1, expect.stringContaining("refused the chain's 8 rows as inconsistent")]);

    // Put back as it was (the genuine rows, then a row appended the genuine way is not possible: drop row 8).
    await db.query('DELETE FROM desk_audit WHERE seq >= 6');
    for (const g of genuine.slice(5)) {
      const cols = Object.keys(g);
      await db.query(`INSERT INTO desk_audit (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((k) => (g as Record<string, unknown>)[k]));
    }
    r = await check();
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("cosigned the chain's 7 rows")]);

    // The newest rows cut off: whole to the chain's own check, smaller than what the witness cosigned.
    await db.query('DELETE FROM desk_audit WHERE seq >= 6');
    expect((await checkAudit(db, [readFileSync(caPaths(ca.dir).caCert, 'utf8')])).ok).toBe(true);
    r = await check();
    expect([r.code, r.out]).toEqual([1, expect.stringContaining('witness procuratorate.example.gov.cn/w1 has cosigned 7 rows of the chain, which now has 5: rows were cut off')]);
  }, 120_000);

  it('says what is wrong with an anchor config, and that a desk without one is not anchored', async () => {
    const dir = tmp('recgw-anchor-bad-');
    const base = { database: `sqlite:${join(dir, 'i.db')}`, listen: { host: '127.0.0.1', port: 0 }, tls: { cert: 'c', key: 'k' }, ca: caPaths(ca.dir).caCert };
    const file = join(dir, 'desk.json');
    writeFileSync(file, JSON.stringify({ ...base, auditAnchor: { key: '', origin: 'has space', witnesses: [], minutes: 0 } }));
    let r = await deskCli(['desk', 'audit-check', '--config', file]);
    expect(r.code).toBe(2);
    for (const k of ['auditAnchor.key: missing', 'auditAnchor.origin: must be', 'auditAnchor.witnesses: must list', 'auditAnchor.minutes: must be']) expect(r.err).toContain(k);
    // An RSA key where Ed25519 is needed.
    writeFileSync(file, JSON.stringify({ ...base, auditAnchor: { key: caPaths(ca.dir).receiptKey, origin: ORIGIN, witnesses: [{ url: witness.url, vkey: 'x+0000000+AA' }] } }));
    r = await deskCli(['desk', 'audit-check', '--config', file]);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/auditAnchor.key: .* holds a (rsa|ec) key; the chain's checkpoints are signed with Ed25519/)]);
    writeFileSync(file, JSON.stringify(base));
    r = await deskCli(['desk', 'audit-check', '--config', file]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining('not anchored (no auditAnchor in the desk config)')]);
  });
});
