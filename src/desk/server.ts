/**
 * The evidence desk (docs/desk.md): an HTTPS web app on fastify over the agency index. The composition root: the
 * constructor assigns; start() opens the index database, brings its schema up to date, builds the app (the web stack
 * of src/web/app.ts, the guard, one plugin per page) and listens; stop() closes the server, then the database.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { webApp } from '../web/app.js';
import { openIndexDb, type IndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { RecgwError } from '../util/errors.js';
import { DeskAccounts } from './accounts.js';
import { DeskAudit } from './audit.js';
import { readAgencyKeys, readDeskTls, readSampleSigner, type DeskConfig } from './config.js';
import { Approvals } from './approvals.js';
import { readCaBundle } from '../cli/args.js';
import { SegmentPlaintext } from './plaintext.js';
import { DeskStore } from './desk-store.js';
import { accessRoutes } from './routes/access.js';
import { PlaybackGrants } from './playback-grants.js';
import { playRoutes } from './routes/play.js';
import { retentionRoutes } from './routes/retention.js';
import { Retention } from './retention.js';
import { Samples } from './samples.js';
import { CSRF_COOKIE, type Access, type DeskContext } from './context.js';
import { installGuard } from './guard.js';
import { VerifyRuns } from './verify-runs.js';
import { assetRoutes } from './routes/assets.js';
import { authRoutes } from './routes/auth.js';
import { searchRoutes } from './routes/search.js';
import { sessionRoutes } from './routes/session.js';
import { statsRoutes } from './routes/stats.js';
import { alertRoutes } from './routes/alerts.js';
import { sampleRoutes } from './routes/samples.js';
import { chartRoutes } from './routes/charts.js';
import { readUnitsFile } from '../report/units.js';
import { GatewayWatch } from './gateway-watch.js';
import { AuditAnchor, loadAnchor } from './audit-anchor.js';
import { createLogger } from '../util/log.js';

export interface DeskRoute {
  method: 'GET' | 'POST';
  url: string;
  access: Access;
}

export interface DeskOptions {
  config: DeskConfig;
  /** fastify's logger: a pino instance, or false for none (tests). */
  logger?: FastifyServerOptions['loggerInstance'] | false;
  now?: () => number;
}

export class DeskServer {
  private app: FastifyInstance | undefined;
  private db: IndexDb | undefined;
  private watch: GatewayWatch | undefined;
  private anchor: AuditAnchor | undefined;
  private store: DeskStore | undefined;
  private readonly table: DeskRoute[] = [];

  constructor(private readonly o: DeskOptions) {}

  /** Every route (after start), with its declared access: the desk's whole surface. */
  get routes(): readonly DeskRoute[] {
    return this.table;
  }

  address(): { host: string; port: number } {
    const a = this.app?.server.address();
    if (!a || typeof a === 'string') throw new Error('the desk is not listening');
    return { host: a.address, port: a.port };
  }

  async start(): Promise<void> {
    const c = this.o.config;
    const tls = readDeskTls(c);
    const sampleSigner = readSampleSigner(c);
    const anchor = c.auditAnchor && loadAnchor(c.auditAnchor);
    const agencyKeys = readAgencyKeys(c);
    const now = this.o.now ?? Date.now;
    const db = await openIndexDb(c.database);
    this.db = db;
    await migrateIndex(db);
    const audit = new DeskAudit(db, now, sampleSigner);
    const caPems = readCaBundle(c.ca);
    const store = new DeskStore(db, c.store, c.s3);
    this.store = store;
    const ctx: DeskContext = {
      config: c,
      db,
      accounts: new DeskAccounts(db),
      audit,
      approvals: new Approvals(db, audit, now, c.zone, caPems),
      retention: new Retention(db, audit, now, c.retention?.years, c.zone, caPems),
      plaintext: new SegmentPlaintext(db, agencyKeys, store),
      grants: new PlaybackGrants(now),
      verify: new VerifyRuns(db, { ca: c.ca, store, now }),
      samples: new Samples(db),
      sampleSigner,
      units: c.units === undefined ? undefined : readUnitsFile(c.units),
      anchor: anchor && new AuditAnchor(db, anchor, createLogger('desk-audit-anchor')),
      now,
    };
    this.anchor = ctx.anchor;
    const app = await webApp({
      tls,
      logger: this.o.logger ?? false,
      bodyLimit: 64 * 1024,
      csrfCookie: CSRF_COOKIE,
      rateLimit: true,
    });
    this.app = app;
    app.addHook('onRoute', (r) => {
      for (const m of [r.method].flat() as string[]) if (m === 'GET' || m === 'POST') this.table.push({ method: m, url: r.url, access: r.config?.access ?? 'write' });
    });
    installGuard(app, ctx);
    await app.register(assetRoutes());
    await app.register(authRoutes(ctx));
    await app.register(searchRoutes(ctx));
    await app.register(sessionRoutes(ctx));
    await app.register(statsRoutes(ctx));
    await app.register(alertRoutes(ctx));
    await app.register(sampleRoutes(ctx));
    await app.register(chartRoutes(ctx));
    await app.register(accessRoutes(ctx));
    await app.register(playRoutes(ctx));
    await app.register(retentionRoutes(ctx));
    if (c.gateways) {
      this.watch = new GatewayWatch(c.gateways, c.ca, db, createLogger('desk'), now);
      this.watch.start();
    }
    this.anchor?.start();
    try {
      await app.listen({ host: c.listen.host, port: c.listen.port });
    } catch (err) {
      throw new RecgwError('config', `the desk cannot listen on ${c.listen.host}:${c.listen.port} (listen in the desk config): ${(err as Error).message}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    const app = this.app;
    const db = this.db;
    this.app = undefined;
    this.db = undefined;
    try {
      await this.anchor?.stop();
      this.anchor = undefined;
      await this.watch?.stop();
      this.watch = undefined;
      await app?.close();
    } finally {
      await this.store?.stop();
      this.store = undefined;
      await db?.close();
    }
  }
}
