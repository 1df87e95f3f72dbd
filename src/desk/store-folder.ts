import type { Queryable } from '../index/database.js';
import { RecgwError } from '../util/errors.js';

/** The store folder the desk reads: the config's, else the one the last `recgw index rebuild` recorded (index_meta). */
export async function storeFolder(db: Queryable, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const [row] = await db.query<{ value: string }>("SELECT value FROM index_meta WHERE key = 'store'");
  if (!row) throw new RecgwError('config', 'the index does not say which store it was built from: set "store" in the desk config, or run recgw index rebuild');
  return row.value;
}
