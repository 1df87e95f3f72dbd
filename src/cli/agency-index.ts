/**
 * `recgw index ...`: the agency index (docs/agency-index.md), a database view of a store for the evidence desk.
 *   rebuild  make the index again from the store (the evidence, a folder or a bucket); progress on standard error
 *   migrate  bring the database's schema up to this recgw's
 */
import { openIndexDb, type IndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { rebuildIndex } from '../index/rebuild.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, required, storeFolder } from './args.js';
import { S3_KEYS_NOTE, S3_OPTIONS, S3_USAGE, s3Access } from './s3-access.js';
import { isS3Location, openStore } from '../store/open-store.js';
import { FolderStore } from '../store/folder-store.js';
import { storeWhere } from '../store/devices.js';
import type { EvidenceStore } from '../store/store.js';
import type { Io } from './io.js';

const USAGE = `recgw index rebuild --store <DIR | ${S3_USAGE}> --database URL [--ca ca.pem] [--quiet]
       recgw index migrate --database URL
  the store may be given without --store too; URL: postgres://USER@HOST:PORT/DATABASE (the password from PGPASSWORD or
  ~/.pgpass) or sqlite:PATH; ${S3_KEYS_NOTE}`;

/** The store to rebuild from: --store or the one positional, a folder or a bucket. */
function storeOf(given: string | undefined, positionals: string[], values: Parameters<typeof s3Access>[0]): EvidenceStore {
  const all = [...(given === undefined ? [] : [given]), ...positionals];
  if (all.length !== 1) throw new RecgwError('usage', `give exactly one store (a folder or s3://BUCKET/PREFIX)\nusage: ${USAGE}`);
  const location = all[0]!;
  if (isS3Location(location)) return openStore(location, s3Access(values, USAGE));
  return new FolderStore(storeFolder(location, USAGE));
}

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
      const { values, positionals } = parse(rest, { store: { type: 'string' }, database: { type: 'string' }, ca: { type: 'string' }, quiet: { type: 'boolean' }, ...S3_OPTIONS }, USAGE, true);
      const url = required(values.database, '--database', USAGE);
      const caPems = values.ca === undefined ? undefined : readCaBundle(values.ca);
      const store = storeOf(values.store, positionals, values);
      const t0 = Date.now();
      const say = values.quiet ? undefined : (m: string): void => io.err(`${m}\n`);
      const r = await withDb(url, async (db) => {
        say?.(`rebuilding the index in the ${db.where} from ${storeWhere(store)}${caPems ? '' : ' (receipts not checked: give --ca to leave out any that are not genuine)'}`);
        return { where: db.where, sum: await rebuildIndex(db, store, { ...(caPems ? { caPems } : {}), ...(say ? { progress: say } : {}) }) };
      }).finally(() => store.close());
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
