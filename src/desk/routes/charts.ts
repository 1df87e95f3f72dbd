/**
 * The statistics' charts: GET /stats.json?from=&to=&unit=day|month|year (read) — the figures the charts draw
 * (src/desk/charts.ts); GET /assets/echarts.min.js — Apache ECharts from node_modules, served by the desk itself (no
 * CDN); GET /assets/desk-charts.js — the page's chart script, GET /assets/desk-track.js — a session page's GPS track
 * (no inline script: the CSP allows none).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { chartData, UNITS, type Unit } from '../charts.js';
import { DESK_CHARTS_JS } from '../chart-script.js';
import { DESK_TRACK_JS } from '../track-script.js';
import type { DeskContext } from '../context.js';
import { scriptRoute } from './assets.js';
import { periodOf } from '../period.js';

const DATE = { type: 'string', maxLength: 10 } as const;

export function chartRoutes(ctx: DeskContext) {
  const echarts = readFileSync(createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js'));
  return async (app: FastifyInstance): Promise<void> => {
    scriptRoute(app, '/assets/echarts.min.js', echarts, 86400);
    scriptRoute(app, '/assets/desk-charts.js', DESK_CHARTS_JS, 3600);
    scriptRoute(app, '/assets/desk-track.js', DESK_TRACK_JS, 3600);
    app.get<{ Querystring: { from?: string; to?: string; unit?: Unit } }>(
      '/stats.json',
      { config: { access: 'read' }, schema: { querystring: { type: 'object', properties: { from: DATE, to: DATE, unit: { type: 'string', enum: [...UNITS] }, lang: { type: 'string', maxLength: 10 } } } } },
      async (req, reply) => {
        const period = periodOf(req.query.from, req.query.to, ctx.config.zone);
        const data = await chartData(ctx.db, period, req.query.unit ?? 'day', ctx.config.zone, req.lang === 'en' ? 'en' : 'zh-CN', ctx.units);
        return reply.type('application/json; charset=utf-8').send(data);
      },
    );
  };
}
