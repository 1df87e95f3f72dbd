/**
 * GET /alerts: the live alerts (read). POST /alerts/ack (write: not read-only): acknowledge one alert as the signed-in
 * account, with an optional note; who and when are kept (desk_alert_acks) and audited (`ack-alert`). An alert that is
 * no longer there, or was acknowledged already, is said so; nothing changes.
 */
import type { FastifyInstance } from 'fastify';
import { acknowledge, liveAlerts } from '../alerts.js';
import { peer, viewOf, type DeskContext } from '../context.js';
import type { DeskKey } from '../i18n.js';
import { alertsPage } from '../pages/alerts.js';

const MESSAGES: Record<string, { kind: 'info' | 'error'; key: DeskKey }> = {
  acked: { kind: 'info', key: 'alerts.acked' },
  already: { kind: 'error', key: 'alerts.already' },
  gone: { kind: 'error', key: 'alerts.gone' },
};

export function alertRoutes(ctx: DeskContext) {
  const offlineMs = (ctx.config.gateways?.offlineMinutes ?? 5) * 60_000;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: { m?: string } }>(
      '/alerts',
      { config: { access: 'read' }, schema: { querystring: { type: 'object', properties: { m: { type: 'string', maxLength: 10 }, lang: { type: 'string', maxLength: 10 } } } } },
      async (req, reply) => {
        const v = viewOf(ctx, req, reply);
        const m = req.query.m === undefined ? undefined : MESSAGES[req.query.m];
        const alerts = await liveAlerts(ctx.db, v.now, offlineMs);
        return reply.type('text/html; charset=utf-8').send(alertsPage(v, alerts, m ? { kind: m.kind, text: v.t(m.key) } : undefined));
      },
    );

    app.post<{ Body: { key?: string; note?: string } }>(
      '/alerts/ack',
      { config: { access: 'write' }, schema: { body: { type: 'object', properties: { key: { type: 'string', maxLength: 600 }, note: { type: 'string', maxLength: 500 }, _csrf: { type: 'string' } } } } },
      async (req, reply) => {
        const now = ctx.now();
        const alert = (await liveAlerts(ctx.db, now, offlineMs)).find((a) => a.key === req.body.key);
        if (!alert) return reply.redirect('/alerts?m=gone', 303);
        const name = req.account!.name;
        // eslint-disable-next-line no-control-regex
        const note = (req.body.note ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
        if (!(await acknowledge(ctx.db, alert.key, name, note, now))) return reply.redirect('/alerts?m=already', 303);
        await ctx.audit.record(name, 'ack-alert', peer(req), { key: alert.key, kind: alert.kind, device: alert.device, session: alert.session, note });
        return reply.redirect('/alerts?m=acked', 303);
      },
    );
  };
}
