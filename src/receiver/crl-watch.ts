/**
 * The receiver's copy of the agency CA's revocations: read from `agency.crl` at start (a CRL that does not verify
 * stops the receiver), read again whenever the file changes (the agency replaces it after each `recgw ca revoke`),
 * and copied into the store (`<store>/crl.pem`) so verifiers of the store see what the receiver enforced.
 */
import { readFileSync, statSync } from 'node:fs';
import type { EvidenceStore } from '../store/store.js';
import { Revocations } from '../pki/crl.js';
import { describe } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export const STORE_CRL_FILE = 'crl.pem';
const CHECK_MS = 10_000;

export class CrlWatch {
  private current = Revocations.none();
  private mtime = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string | undefined,
    private readonly caPems: string[],
    private readonly store: EvidenceStore,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async start(): Promise<void> {
    if (!this.path) return;
    await this.reload(true);
    this.timer = setInterval(() => void this.reload(false), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  revocations = (): Revocations => this.current;

  private async reload(first: boolean): Promise<void> {
    const path = this.path!;
    try {
      const m = statSync(path).mtimeMs;
      if (!first && m === this.mtime) return;
      const next = await Revocations.load([{ text: readFileSync(path, 'utf8'), source: path }], this.caPems);
      this.current = next;
      this.mtime = m;
      await this.store.replace(STORE_CRL_FILE, readFileSync(path));
      this.log.info('read the agency CRL', { path, revoked: next.size, nextUpdate: next.nextUpdate?.toISOString() });
      if (next.nextUpdate && next.nextUpdate < this.now()) this.log.warn('the agency CRL is out of date: issue a new one with `recgw ca crl` and replace agency.crl', { path, nextUpdate: next.nextUpdate.toISOString() });
    } catch (err) {
      if (first) throw err;
      // A bad replacement must not stop a running receiver: it keeps the revocations it had, and says so.
      this.log.error('could not read the changed agency CRL; keeping the previous one', { path, err: describe(err) });
    }
  }
}
