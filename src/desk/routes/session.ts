/**
 * GET /sessions/:device/:session: a session's page. POST …/verify (write): run the verifier over its device folder,
 * keep the result (desk_verifications) and audit it, then show the page again.
 */
import type { FastifyInstance } from 'fastify';
import { sessionDetail } from '../../index/search.js';
import { peer, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import { sessionHref } from '../pages/search.js';
import { sessionPage } from '../pages/session.js';

type Params = { device: string; session: string };
const PARAMS = {
  type: 'object',
  required: ['device', 'session'],
  properties: { device: { type: 'string', maxLength: 200 }, session: { type: 'string', maxLength: 200 } },
} as const;

export function sessionRoutes(ctx: DeskContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: Params }>('/sessions/:device/:session', { config: { access: 'read' }, schema: { params: PARAMS } }, async (req, reply) => {
      const { device, session } = req.params;
      const d = await sessionDetail(ctx.db, device, session);
      if (!d) throw new Refusal(404, 'error.noSession');
      const stated = await ctx.db.query<{ item: string; stated_deadline_ms: number }>(
        `SELECT r.item, r.stated_deadline_ms FROM receipts r JOIN segments g ON g.device_id = r.device_id AND g.name = r.item
          WHERE r.kind = 'segment' AND g.device_id = $1 AND g.session_id = $2`,
        [device, session],
      );
      const runs = await ctx.verify.history(device, session);
      await ctx.audit.record(req.account!.name, 'view-session', peer(req), { device, session });
      const v = viewOf(ctx, req, reply);
      const kept = await ctx.retention.status(device, session, d.session.end);
      return reply.type('text/html; charset=utf-8').send(sessionPage(v, d, new Map(stated.map((r) => [r.item, Number(r.stated_deadline_ms)])), runs, kept));
    });

    app.post<{ Params: Params }>('/sessions/:device/:session/verify', { config: { access: 'write' }, schema: { params: PARAMS } }, async (req, reply) => {
      const { device, session } = req.params;
      const d = await sessionDetail(ctx.db, device, session);
      if (!d) throw new Refusal(404, 'error.noSession');
      const run = await ctx.verify.run(device, session, req.account!.name);
      await ctx.audit.record(req.account!.name, 'verify', peer(req), { device, session, ok: run.ok, findings: run.findingCount });
      return reply.redirect(`${sessionHref(device, session)}#verify-result`, 303);
    });
  };
}
