/**
 * The README's main job: `recgw demo` runs a complete simulated installation and exits 0 when the verifier
 * passes; what it leaves in --out can be verified and reported on again, as the README says.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createVerify, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { entries, manifests } from '../helpers/evidence.js';
import { Client } from '../helpers/console.js';
import { signedIn } from '../helpers/desk.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const recgw = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('recgw demo', () => {
  afterAll(() => cleanupTmp());

  it('records a session with an explained interruption, delivers it with receipts, and verifies the receiver store', () => {
    const out = join(tmp('recgw-demo-test-'), 'demo');
    const started = Date.now();
    const r = recgw('demo', '--seconds', '8', '--out', out);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[1\/7\][\s\S]*\[6\/7\] every segment and ledger entry has a signed receipt[\s\S]*Result: VALID/);
    // Times for people: Beijing time, named; never the ledger's UTC.
    expect(r.stdout).toMatch(/session \S+ started at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\)/);
    expect(r.stdout).toMatch(/stopped at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(北京时间 UTC\+08:00\)/);
    expect(r.stdout).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z/);
    // The session is at least as long as --seconds, plus the declared pause.
    expect(Date.now() - started).toBeGreaterThan(8_000);
    for (const f of ['ca/ca.pem', 'ca/agency-key.pem', 'receiver/demo-room-1/ledger.jsonl', 'receiver/demo-room-1/receipts.jsonl']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const dev = join(out, 'receiver', 'demo-room-1');
    const types = entries(dev).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['session.opened', 'interruption.started', 'interruption.ended', 'session.closed', 'receipt.received']));
    const ir = entries(dev).find((e) => e.type === 'interruption.started')!;
    expect(ir.body).toMatchObject({ reason: 'site-change', origin: 'declared' });
    expect(manifests(dev).filter((m) => m.explanation).map((m) => m.source.id).sort()).toEqual(['cam1', 'mic1']);

    const again = recgw('verify', join(out, 'receiver'), '--ca', join(out, 'ca/ca.pem'), '--agency-key', join(out, 'ca/agency-key.pem'));
    expect(again.status, again.stdout + again.stderr).toBe(0);
    const report = recgw('report', join(out, 'receiver'), '--ca', join(out, 'ca/ca.pem'), '--json');
    expect(report.status, report.stderr).toBe(0);
    const j = JSON.parse(report.stdout) as { total: { sessions: number; uploads: { late: number; onTime: number } } };
    expect(j.total.sessions).toBe(1);
    expect(j.total.uploads.late).toBe(0);
    expect(j.total.uploads.onTime).toBeGreaterThan(0);
    // The desk ran beside it, over an index beside the store, and stopped with the demo (no --stay).
    expect(r.stdout).toMatch(/evidence desk: https:\/\/127\.0\.0\.1:\d+\/ {2}sign in as demo, password \S+/);
    expect(r.stdout).toMatch(/it stops now: give --stay to keep it open/);
    expect(existsSync(join(out, 'index.db'))).toBe(true);
  }, 150_000);

  it('with --stay keeps the desk open after the run: it answers, the printed login signs in and finds the session, Ctrl-C ends it', async () => {
    const out = join(tmp('recgw-demo-stay-'), 'demo');
    const child = spawn(process.execPath, [BIN, 'demo', '--seconds', '4', '--out', out, '--stay'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => void (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => void (stderr += b.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 120_000;
      while (!stdout.includes('The desk stays open until Ctrl-C.')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the demo did not stay open:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(stdout).toMatch(/Result: VALID/);
      const m = /\n {2}(https:\/\/127\.0\.0\.1:\d+)\/ {2}sign in as (\S+), password (\S+)\n/.exec(stdout);
      expect(m, stdout).not.toBeNull();
      const [, base, name, password] = m!;
      // The desk answers: a page for anybody, and the sign-in page for a search without a sign-in.
      const anon = new Client(base!);
      expect((await anon.get('/login')).status).toBe(200);
      expect((await anon.get('/sessions')).status).toBe(303);
      // A wrong password is refused; the printed one signs in and the index holds the demo's session.
      await expect(signedIn(base!, name!, 'not the password 123')).rejects.toThrow(/sign-in as demo failed: 401/);
      const c = await signedIn(base!, name!, password!);
      const found = await c.get('/sessions?caseRef=DEMO-2026-001');
      expect(found.status).toBe(200);
      expect(found.text).toContain('demo-room-1');
      expect(found.text).toContain('现场检查');

      // The demo's desk has a signing key from the demo CA: the sample check goes from draw to a signed report.
      const day = (ms: number): string => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
      const csrf = await c.csrf('/samples');
      const drawn = await c.req('POST', '/samples', { form: { _csrf: csrf, from: day(Date.now() - 86400_000), to: day(Date.now()), percent: '100', seed: 'demo' } });
      const href = String(drawn.headers.location).replace(/\?.*$/, '');
      expect(href).toMatch(/^\/samples\/[0-9a-f-]{36}$/);
      const checked = await c.req('POST', `${href}/check`, { form: { _csrf: csrf, index: '0', matterRecorded: 'yes', uninterruptedOrExplained: 'yes', handedOverInTime: 'yes', note: '' } });
      expect(checked.status).toBe(303);
      expect((await c.req('POST', `${href}/sign`, { form: { _csrf: csrf } })).headers.location).toBe(`${href}?m=signed`);
      const report = (await c.get(`${href}/report.json`)).body;
      const sig = (await c.get(`${href}/report.sig`)).body;
      const cert = new X509Certificate(readFileSync(join(out, 'desk', 'sample-cert.pem')));
      expect(cert.checkIssued(new X509Certificate(readFileSync(join(out, 'ca', 'ca.pem'))))).toBe(true);
      expect(createVerify('sha256').update(report).verify(cert.publicKey, sig)).toBe(true);
      expect((JSON.parse(report.toString('utf8')) as { items: unknown[] }).items).toHaveLength(1);
      // Its audit chain is signed with the same key, and whole.
      const audit = recgw('desk', 'audit-check', '--config', join(out, 'desk', 'desk.json'));
      expect(audit.status, audit.stdout + audit.stderr).toBe(0);
      expect(audit.stdout).toMatch(/whole: (\d+) rows, \1 signed/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
  }, 150_000);
});
