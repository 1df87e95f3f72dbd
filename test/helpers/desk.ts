/**
 * An evidence desk for a test: a config over an index database (SQLite file or a PostgreSQL URL), an HTTPS
 * certificate from the test's CA, accounts of every role made through `recgw desk account add`, and the server
 * started on a free port of 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { DeskServer } from '../../src/desk/server.js';
import { loadDeskConfig } from '../../src/desk/config.js';
import { caPaths, issueServerCertificate } from '../../src/pki/ca.js';
import type { Role } from '../../src/desk/roles.js';
import { tmp } from './fixtures.js';
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

/** A desk over `database`, verifying against the CA in `caDir` and the store `store`; `now`, its clock (default the system's). */
export async function startDesk(caDir: string, database: string, store: string, extra: Record<string, unknown> = {}, now?: () => number): Promise<TestDesk> {
  const dir = tmp('recgw-desk-');
  const tls = issueServerCertificate({ caDir, names: ['localhost', '127.0.0.1'] });
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
  const server = new DeskServer({ config: loadDeskConfig(configFile), ...(now ? { now } : {}) });
  await server.start();
  const a = server.address();
  return { server, base: `https://127.0.0.1:${a.port}`, configFile, stop: () => server.stop() };
}

/** A client signed in as `name`. */
export async function signedIn(base: string, name: string, password = DESK_PASSWORD): Promise<Client> {
  const c = new Client(base);
  const csrf = await c.csrf('/login');
  const a = await c.req('POST', '/login', { form: { _csrf: csrf, name, password } });
  if (a.status !== 303) throw new Error(`sign-in as ${name} failed: ${a.status} ${a.text.slice(0, 300)}`);
  return c;
}
