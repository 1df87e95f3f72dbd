/** GET /stats: the statistics page; GET /stats.csv?by=…: one of its tables as CSV (audited); GET /audit: the audit trail. */
import type { FastifyInstance } from 'fastify';
import { peer, viewOf, type DeskContext } from '../context.js';
import { statsPage } from '../pages/stats.js';
import { auditPage } from '../pages/audit.js';
import { checkAudit } from '../audit-check.js';
import { readCaBundle } from '../../cli/args.js';
import { periodOf } from '../period.js';
import { STATS_BY, statistics, toCsv, type StatRow, type StatsBy } from '../stats.js';

const DATE = { type: 'string', maxLength: 10 } as const;
const PERIOD = { from: DATE, to: DATE, lang: { type: 'string', maxLength: 10 } } as const;
type Query = { from?: string; to?: string; by?: StatsBy; unit?: string };

export function statsRoutes(ctx: DeskContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: Query }>('/stats', { config: { access: 'read' }, schema: { querystring: { type: 'object', properties: { ...PERIOD, unit: { type: 'string', enum: ['day', 'month', 'year'] } } } } }, async (req, reply) => {
      const period = periodOf(req.query.from, req.query.to, ctx.config.zone);
      const tables = {} as Record<StatsBy, StatRow[]>;
      for (const by of STATS_BY) tables[by] = await statistics(ctx.db, by, period, ctx.units);
      await ctx.audit.record(req.account!.name, 'view-stats', peer(req), { ...period });
      return reply.type('text/html; charset=utf-8').send(statsPage(viewOf(ctx, req, reply), req.query, tables, ctx.units !== undefined));
    });

    app.get<{ Querystring: Query }>(
      '/stats.csv',
      { config: { access: 'read' }, schema: { querystring: { type: 'object', properties: { ...PERIOD, by: { type: 'string', enum: [...STATS_BY] } } } } },
      async (req, reply) => {
        const by = req.query.by ?? 'device';
        const period = periodOf(req.query.from, req.query.to, ctx.config.zone);
        const rows = await statistics(ctx.db, by, period, ctx.units);
        await ctx.audit.record(req.account!.name, 'export-csv', peer(req), { by, ...period, rows: rows.length });
        const day = new Date(ctx.now()).toISOString().slice(0, 10);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="recgw-stats-${by}-${day}.csv"`)
          .send(toCsv(by, rows));
      },
    );

    app.get('/audit', { config: { access: 'oversee' } }, async (req, reply) => {
      const v = viewOf(ctx, req, reply);
      const check = await checkAudit(ctx.db, readCaBundle(ctx.config.ca));
      // The head offered to the witnesses now, as recgw desk audit-check does: their answer is part of the check.
      const anchored = ctx.anchor ? ((await ctx.anchor.tick()) ?? []) : undefined;
      return reply.type('text/html; charset=utf-8').send(auditPage(v, check, await ctx.audit.latest(500), anchored));
    });
  };
}
