/**
 * The demo's evidence desk (docs/desk.md): an SQLite index beside the demo's store (`DIR/index.db`), made again from
 * the store every few seconds while the demo runs (so the session appears as the receiver stores it) and once more at
 * the end; the desk over it on https://127.0.0.1 (a certificate from the demo CA), and one demo account, a
 * supervisor, with a password made now and printed. Composed as `recgw index rebuild` and `recgw desk` are.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caPaths, issueDeskSigningCertificate, issueServerCertificate } from '../pki/ca.js';
import { openIndexDb, type IndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { rebuildIndex } from '../index/rebuild.js';
import { findDeviceDirs } from '../verify/verifier.js';
import { DeskAccounts } from '../desk/accounts.js';
import { parseDeskConfig } from '../desk/config.js';
import { DeskServer } from '../desk/server.js';
import type { Logger } from '../util/log.js';
import { writeFileAtomicSync } from '../util/fsx.js';

/** The demo's desk account: a supervisor, so every page of the desk is open to it. */
export const DEMO_DESK_ACCOUNT = 'demo';
/** How often the index is made again from the store while the demo runs. */
const REFRESH_MS = 3000;

export interface DemoDesk {
  url: string;
  name: string;
  password: string;
  database: string;
  /** Make the index again from the store now (after the last receipt). */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDemoDesk(o: { out: string; caDir: string; storeDir: string; zone: string; log: Logger }): Promise<DemoDesk> {
  const dir = join(o.out, 'desk');
  mkdirSync(dir, { recursive: true });
  const tls = issueServerCertificate({ caDir: o.caDir, names: ['localhost', '127.0.0.1'] });
  writeFileAtomicSync(join(dir, 'desk-cert.pem'), tls.certPem);
  writeFileAtomicSync(join(dir, 'desk-key.pem'), tls.keyPem, 0o600);
  // The desk's own signing key from the demo CA, so the sample check's report is signed and the audit chain too.
  const signing = issueDeskSigningCertificate({ caDir: o.caDir, commonName: 'demo evidence desk signing' });
  writeFileAtomicSync(join(dir, 'sample-cert.pem'), signing.certPem);
  writeFileAtomicSync(join(dir, 'sample-key.pem'), signing.keyPem, 0o600);
  const database = `sqlite:${join(o.out, 'index.db')}`;
  const raw = {
    database,
    listen: { host: '127.0.0.1', port: 0 },
    tls: { cert: 'desk-cert.pem', key: 'desk-key.pem' },
    ca: caPaths(o.caDir).caCert,
    store: o.storeDir,
    zone: o.zone,
    sampleSigning: { key: 'sample-key.pem', cert: 'sample-cert.pem' },
  };
  writeFileAtomicSync(join(dir, 'desk.json'), JSON.stringify(raw, null, 2) + '\n');
  const config = parseDeskConfig(raw, dir);

  const db: IndexDb = await openIndexDb(database);
  const caPems = [readFileSync(caPaths(o.caDir).caCert, 'utf8')];
  const password = randomBytes(12).toString('base64url');
  await migrateIndex(db);
  // A demo run again in the same folder gets a new password: the old account goes.
  await db.query('DELETE FROM desk_sessions WHERE name = $1', [DEMO_DESK_ACCOUNT]);
  await db.query('DELETE FROM desk_accounts WHERE name = $1', [DEMO_DESK_ACCOUNT]);
  await new DeskAccounts(db).add(DEMO_DESK_ACCOUNT, 'supervisor', password);

  let running: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    running ??= (async () => {
      try {
        if (findDeviceDirs(o.storeDir).length > 0) await rebuildIndex(db, o.storeDir, { caPems });
      } catch (err) {
        o.log.warn('the demo index could not be made again from the store', { err: String(err) });
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();

  const server = new DeskServer({ config });
  try {
    await server.start();
  } catch (err) {
    clearInterval(timer);
    await db.close();
    throw err;
  }
  const a = server.address();
  return {
    url: `https://${a.host}:${a.port}/`,
    name: DEMO_DESK_ACCOUNT,
    password,
    database,
    refresh: async () => {
      await running;
      await refresh();
    },
    stop: async () => {
      clearInterval(timer);
      await running;
      try {
        await server.stop();
      } finally {
        await db.close();
      }
    },
  };
}
