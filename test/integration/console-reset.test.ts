/**
 * A lost console password: `recgw console reset-password` (the real CLI entry) prints a one-time code, and the
 * console's /reset page takes it with a new password, once, before it expires; wrong codes are throttled and
 * audited, the old password and every login made with it stop working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa } from '../helpers/fixtures.js';
import { Client, PASSWORD, consoleOnCore, login, setupAdmin, type Answer, type CoreConsole } from '../helpers/console.js';
import { main } from '../../src/cli/main.js';

const NEW_PASSWORD = 'a brand new passphrase';

async function resetCli(cc: CoreConsole, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['console', 'reset-password', '--config', cc.gw.configPath, ...extra], { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const codeOf = (out: string): string => /: (\d{4}-\d{4}-\d{4})\n/.exec(out)![1]!;

async function reset(c: Client, code: string, password = NEW_PASSWORD, password2 = password): Promise<Answer> {
  const csrf = await c.csrf('/reset');
  return c.req('POST', '/reset', { form: { _csrf: csrf, code, password, password2 } });
}

describe('resetting a lost console password', () => {
  const ca = makeCa();
  let cc: CoreConsole;
  const file = (): string => join(cc.gw.config.stateDir, 'console', 'reset-code');
  const ledger = (type: string): Record<string, unknown>[] =>
    (cc.core.db.prepare('SELECT line FROM ledger WHERE type = ? ORDER BY seq').all(type) as { line: string }[]).map(
      (r) => (JSON.parse(r.line) as { body: Record<string, unknown> }).body,
    );

  beforeAll(async () => {
    cc = await consoleOnCore(ca.dir, { throttle: { baseMs: 300 } });
  });
  afterAll(async () => {
    await cc?.stop();
    cleanupTmp();
  });

  it('refuses before the first-run setup, and for an account that does not exist', async () => {
    const before = await resetCli(cc);
    expect(before.code).toBe(2);
    expect(before.err).toContain('no account yet');
    await setupAdmin(new Client(cc.base), cc.gw.config.stateDir);
    const unknown = await resetCli(cc, '--user', 'nobody');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no console account "nobody"; accounts: admin');
    expect(existsSync(file())).toBe(false);
  });

  it('sets a new password with the code, once; the old password and its logins stop working', async () => {
    const old = new Client(cc.base);
    expect((await login(old, 'admin')).status).toBe(303);
    expect((await old.get('/')).status).toBe(200);

    const r = await resetCli(cc);
    expect(r.code).toBe(0);
    const code = codeOf(r.out);
    expect(r.out).toContain('console account admin');
    // Only the code's hash is kept, readable by the owner alone.
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(readFileSync(file(), 'utf8')).not.toContain(code.replace(/-/g, ''));
    expect(readFileSync(file(), 'utf8')).not.toContain(code);

    const c = new Client(cc.base);
    const login1 = await c.get('/login');
    expect(login1.text).toContain('href="/reset"');
    const wrong = await reset(c, '0000-0000-0000');
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain('重置码不正确');
    expect(ledger('console.login_failed').at(-1)).toMatchObject({ user: '(reset)', reason: 'reset-bad-code' });
    await new Promise((res) => setTimeout(res, 400));
    expect((await reset(c, code, NEW_PASSWORD, 'something else entirely')).status).toBe(400);

    const ok = await reset(c, code);
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/');
    expect((await c.get('/')).status).toBe(200);
    expect(existsSync(file())).toBe(false);
    expect(ledger('config.changed').at(-1)).toMatchObject({ via: 'console', user: '(reset code)', what: 'account', action: 'password-reset', account: 'admin' });

    // The login made with the old password is over; the old password no longer logs in, the new one does.
    expect((await old.get('/')).status).toBe(303);
    expect((await login(new Client(cc.base), 'admin', PASSWORD)).status).toBe(401);
    expect((await login(new Client(cc.base), 'admin', NEW_PASSWORD)).status).toBe(303);
    // Used once: the same code again finds no reset.
    const again = await reset(new Client(cc.base), code);
    expect(again.status).toBe(403);
    expect(ledger('console.login_failed').at(-1)).toMatchObject({ reason: 'reset-none' });
  });

  it('run by root, leaves the code file to the folder\'s owner (the service reads it as its own user)', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test runs as root (as CI does): it shows what sudo does');
    const dir = join(cc.gw.config.stateDir, 'console');
    chownSync(dir, 65534, 65534);
    try {
      expect((await resetCli(cc)).code).toBe(0);
      expect(statSync(file())).toMatchObject({ uid: 65534, gid: 65534 });
      expect(statSync(file()).mode & 0o777).toBe(0o600);
    } finally {
      chownSync(dir, 0, 0);
      chownSync(file(), 0, 0);
    }
  });

  it('refuses an expired code and says to ask again', async () => {
    const code = codeOf((await resetCli(cc, '--user', 'admin')).out);
    const f = JSON.parse(readFileSync(file(), 'utf8')) as { expires: string };
    writeFileSync(file(), JSON.stringify({ ...f, expires: new Date(Date.now() - 1000).toISOString() }));
    const a = await reset(new Client(cc.base), code);
    expect(a.status).toBe(403);
    expect(a.text).toContain('重置码已过期');
    expect(ledger('console.login_failed').at(-1)).toMatchObject({ reason: 'reset-expired' });
  });
});
