/**
 * The README's main job: `recgw demo` runs a complete simulated installation and exits 0 when the verifier
 * passes; what it leaves in --out can be verified and reported on again, as the README says.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { entries, manifests } from '../helpers/evidence.js';

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
  }, 150_000);
});
