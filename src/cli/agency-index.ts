/**
 * `recgw index ...`: the agency index (docs/agency-index.md), a database view of a store for the evidence desk.
 *   rebuild  make the index again from the store (the evidence); progress on standard error
 *   migrate  bring the database's schema up to this recgw's
 */
import { openIndexDb, type IndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { rebuildIndex } from '../index/rebuild.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, required, storeFolder } from './args.js';
import type { Io } from './io.js';

const USAGE = `recgw index rebuild --store DIR --database URL [--ca ca.pem] [--quiet]
       recgw index migrate --database URL
  URL: postgres://USER@HOST:PORT/DATABASE (the password from PGPASSWORD or ~/.pgpass) or sqlite:PATH`;

async function withDb<T>(url: string, fn: (db: IndexDb) => Promise<T>): Promise<T> {
  const db = await openIndexDb(url);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export async function indexCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'rebuild': {
      const { values } = parse(rest, { store: { type: 'string' }, database: { type: 'string' }, ca: { type: 'string' }, quiet: { type: 'boolean' } }, USAGE);
      const store = storeFolder(required(values.store, '--store', USAGE), USAGE);
      const url = required(values.database, '--database', USAGE);
      const caPems = values.ca === undefined ? undefined : readCaBundle(values.ca);
      const t0 = Date.now();
      const say = values.quiet ? undefined : (m: string): void => io.err(`${m}\n`);
      const r = await withDb(url, async (db) => {
        say?.(`rebuilding the index in the ${db.where} from ${store}${caPems ? '' : ' (receipts not checked: give --ca to leave out any that are not genuine)'}`);
        return { where: db.where, sum: await rebuildIndex(db, store, { ...(caPems ? { caPems } : {}), ...(say ? { progress: say } : {}) }) };
      });
      const s = r.sum;
      const removed = s.removed.length > 0 ? `, ${s.removed.length} device(s) no longer in the store removed` : '';
      io.out(
        `index rebuilt in the ${r.where}: ${s.devices} device(s), ${s.sessions} session(s), ${s.segments} segment(s), ${s.interruptions} interruption(s), ${s.receipts} receipt(s)${removed} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
      return 0;
    }
    case 'migrate': {
      const { values } = parse(rest, { database: { type: 'string' } }, USAGE);
      const url = required(values.database, '--database', USAGE);
      const { where, m } = await withDb(url, async (db) => ({ where: db.where, m: await migrateIndex(db) }));
      io.out(m.from === m.to ? `the ${where} has the index schema, version ${m.to}\n` : `the ${where}: index schema version ${m.from} -> ${m.to}\n`);
      return 0;
    }
    default:
      throw new RecgwError('usage', `${sub === undefined ? 'give a subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${USAGE}`);
  }
}
