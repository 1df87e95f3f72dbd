/**
 * An evidence desk for a test: a config over an index database (SQLite file or a PostgreSQL URL), an HTTPS
 * certificate from the test's CA, accounts of every role made through `recgw desk account add`, and the server
 * started on a free port of 127.0.0.1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { DeskServer } from '../../src/desk/server.js';
import { loadDeskConfig } from '../../src/desk/config.js';
import { caPaths, issueServerCertificate } from '../../src/pki/ca.js';
import type { Role } from '../../src/desk/roles.js';
import { openIndexDb } from '../../src/index/database.js';
import { Approvals } from '../../src/desk/approvals.js';
import { DeskAudit } from '../../src/desk/audit.js';
import { makeCa, tmp } from './fixtures.js';
import { Client } from './console.js';

export const DESK_PASSWORD = 'desk password 1234';
export const DESK_ACCOUNTS: Record<Role, string> = { 'evidence-officer': 'officer1', leader: 'leader1', supervisor: 'super1', 'read-only': 'viewer1' };

export async function cli(argv: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), ...(stdin !== undefined ? { readIn: async () => stdin } : {}) };
  const code = await main(argv, io);
  return { code, out, err };
}

export interface TestDesk {
  server: DeskServer;
  base: string;
  configFile: string;
  stop(): Promise<void>;
}

/**
 * A desk config over `database` verifying against the CA in `caDir`, with an HTTPS certificate from the CA in `tlsCaDir`
 * (a gm agency's desk takes its TLS certificate from an intl CA: OpenSSL 3.0 has no SM2 in TLS), and an account of
 * every role.
 */
export async function deskConfig(caDir: string, database: string, store: string, extra: Record<string, unknown> = {}, tlsCaDir = caDir): Promise<string> {
  const dir = tmp('recgw-desk-');
  const tls = issueServerCertificate({ caDir: tlsCaDir, names: ['localhost', '127.0.0.1'] });
  writeFileSync(join(dir, 'cert.pem'), tls.certPem);
  writeFileSync(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const configFile = join(dir, 'desk.json');
  writeFileSync(
    configFile,
    JSON.stringify({ database, listen: { host: '127.0.0.1', port: 0 }, tls: { cert: 'cert.pem', key: 'key.pem' }, ca: caPaths(caDir).caCert, store, ...extra }),
  );
  for (const [role, name] of Object.entries(DESK_ACCOUNTS)) {
    const r = await cli(['desk', 'account', 'add', name, '--role', role, '--config', configFile, '--password-stdin'], DESK_PASSWORD);
    if (r.code !== 0) throw new Error(`desk account add ${name}: ${r.err}`);
  }
  return configFile;
}

/** A desk over `database`, verifying against the CA in `caDir` and the store `store`; `now`, its clock (default the system's). */
export async function startDesk(caDir: string, database: string, store: string, extra: Record<string, unknown> = {}, now?: () => number): Promise<TestDesk> {
  const configFile = await deskConfig(caDir, database, store, extra);
  const server = new DeskServer({ config: loadDeskConfig(configFile), ...(now ? { now } : {}) });
  await server.start();
  const a = server.address();
  return { server, base: `https://127.0.0.1:${a.port}`, configFile, stop: () => server.stop() };
}

/**
 * What `recgw decrypt` needs for `sessions` ("device/session") of a store: the store indexed in an SQLite database, a
 * desk config over it, and the evidence officer's request to view and export them, approved by the leader for an hour.
 */
export async function exportApproval(caDir: string, store: string, sessions: string[]): Promise<{ configFile: string; request: string; as: string }> {
  const database = `sqlite:${join(tmp('recgw-desk-db-'), 'index.db')}`;
  const r = await cli(['index', 'rebuild', '--store', store, '--database', database, '--ca', caPaths(caDir).caCert, '--quiet']);
  if (r.code !== 0) throw new Error(`index rebuild: ${r.err}`);
  const configFile = await deskConfig(caDir, database, store, {}, makeCa().dir);
  const db = await openIndexDb(database);
  try {
    const approvals = new Approvals(db, new DeskAudit(db), Date.now, 'Asia/Shanghai', [readFileSync(caPaths(caDir).caCert, 'utf8')]);
    const as = DESK_ACCOUNTS['evidence-officer'];
    const asked = await approvals.request({ name: as, role: 'evidence-officer', ip: 'test' }, { sessions, reason: '测试需要导出录像', scope: 'export' });
    await approvals.decide({ name: DESK_ACCOUNTS.leader, role: 'leader', ip: 'test' }, asked.id, { approve: true, scope: 'export', hours: 1 });
    return { configFile, request: asked.id, as };
  } finally {
    await db.close();
  }
}

/** A client signed in as `name`. */
export async function signedIn(base: string, name: string, password = DESK_PASSWORD): Promise<Client> {
  const c = new Client(base);
  const csrf = await c.csrf('/login');
  const a = await c.req('POST', '/login', { form: { _csrf: csrf, name, password } });
  if (a.status !== 303) throw new Error(`sign-in as ${name} failed: ${a.status} ${a.text.slice(0, 300)}`);
  return c;
}
