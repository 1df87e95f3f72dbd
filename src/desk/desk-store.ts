/**
 * The evidence store the desk reads (a folder or a bucket, store/open-store.ts): the config's `store`, else the one
 * the last `recgw index rebuild` recorded (index_meta `store`), looked up at each use, since a rebuild may record
 * another. An `s3://` location is reached with the config's `s3` block, whichever of the two names it.
 */
import type { Queryable } from '../index/database.js';
import { isS3Location, openStore, type S3Access } from '../store/open-store.js';
import type { EvidenceStore } from '../store/store.js';
import { RecgwError } from '../util/errors.js';

export class DeskStore {
  /** The store opened for each location seen: one client of a bucket, however many requests. */
  private readonly open = new Map<string, EvidenceStore>();

  constructor(
    private readonly db: Queryable,
    private readonly configured: string | undefined,
    private readonly s3: S3Access | undefined,
  ) {}

  async get(): Promise<EvidenceStore> {
    const location = await this.location();
    let store = this.open.get(location);
    if (!store) {
      if (isS3Location(location) && !this.s3) {
        throw new RecgwError('config', `the index was built from the bucket ${location}: give the desk config an s3 block {endpoint, accessKey, secretKey} to read it（索引来自对象存储 ${location}：请在 desk 配置中填写 s3 的 endpoint、accessKey、secretKey）`);
      }
      store = openStore(location, this.s3);
      this.open.set(location, store);
    }
    return store;
  }

  async stop(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((s) => s.close()));
  }

  private async location(): Promise<string> {
    if (this.configured) return this.configured;
    const [row] = await this.db.query<{ value: string }>("SELECT value FROM index_meta WHERE key = 'store'");
    if (!row) throw new RecgwError('config', 'the index does not say which store it was built from: set "store" in the desk config, or run recgw index rebuild');
    return row.value;
  }
}
