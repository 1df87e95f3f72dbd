/**
 * Retention (docs/desk.md §10) over retention.ts: the expiry list, the evidence marks and the requests for everybody
 * signed in; requests to mark, release or delete from accounts that may write; decisions by a leader other than the
 * requester. Deletions themselves are carried out by `recgw retention apply` on the agency's receiver side, which
 * holds the agency log: the desk never removes a file.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { peer, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import type { DeskKey } from '../i18n.js';
import { sessionRefs, type Actor } from '../approvals.js';
import type { RetentionKind } from '../retention.js';
import { retentionHref, retentionListPage, retentionPage } from '../pages/retention.js';
import { mayWrite } from '../roles.js';

const MESSAGES: Record<string, DeskKey> = { requested: 'retention.msg.requested', approved: 'retention.msg.approved', refused: 'retention.msg.refused' };
const QUERY = { type: 'object', properties: { m: { type: 'string', maxLength: 20 }, lang: { type: 'string', maxLength: 10 } } } as const;
const ID = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } } as const;
const PICK = { anyOf: [{ type: 'string', maxLength: 401 }, { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 401 } }] } as const;

const actor = (req: FastifyRequest): Actor => ({ name: req.account!.name, role: req.account!.role, ip: peer(req) });

export function retentionRoutes(ctx: DeskContext) {
  const info = (req: FastifyRequest & { query: { m?: string } }, t: (k: DeskKey) => string) => {
    const key = req.query.m === undefined ? undefined : MESSAGES[req.query.m];
    return key ? { kind: 'info' as const, text: t(key) } : undefined;
  };
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: { m?: string } }>('/retention', { config: { access: 'read' }, schema: { querystring: QUERY } }, async (req, reply) => {
      const v = viewOf(ctx, req, reply);
      const marks = await ctx.db.query<{ device_id: string; session_id: string; case_ref: string; marked_ms: number | string }>('SELECT device_id, session_id, case_ref, marked_ms FROM desk_evidence_marks ORDER BY marked_ms DESC LIMIT 1000');
      const page = retentionListPage(
        v,
        {
          years: ctx.retention.years,
          expired: await ctx.retention.expired(),
          requests: await ctx.retention.list(),
          marks: marks.map((m) => ({ ref: `${m.device_id}/${m.session_id}`, caseRef: m.case_ref, markedMs: Number(m.marked_ms) })),
          mayAsk: mayWrite(req.account!.role),
        },
        info(req, v.t),
      );
      return reply.type('text/html; charset=utf-8').send(page);
    });

    app.post<{ Body: { kind?: string; sessions?: string; pick?: string | string[]; reason?: string; caseRef?: string } }>(
      '/retention',
      {
        config: { access: 'write' },
        schema: {
          body: {
            type: 'object',
            properties: { kind: { type: 'string', maxLength: 10 }, sessions: { type: 'string', maxLength: 5000 }, pick: PICK, reason: { type: 'string', maxLength: 2000 }, caseRef: { type: 'string', maxLength: 400 }, _csrf: { type: 'string' } },
          },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const sessions = b.pick !== undefined ? [...new Set([b.pick].flat())] : sessionRefs(b.sessions ?? '');
        const r = await ctx.retention.request(actor(req), { kind: (b.kind ?? '') as RetentionKind, sessions, reason: b.reason ?? '', ...(b.caseRef !== undefined ? { caseRef: b.caseRef } : {}) });
        return reply.redirect(`${retentionHref(r.id)}?m=requested`, 303);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { m?: string } }>('/retention/:id', { config: { access: 'read' }, schema: { params: ID, querystring: QUERY } }, async (req, reply) => {
      const r = await ctx.retention.get(req.params.id);
      if (!r) throw new Refusal(404, 'retention.noRequest');
      const v = viewOf(ctx, req, reply);
      const a = req.account!;
      return reply.type('text/html; charset=utf-8').send(retentionPage(v, r, { mayDecide: a.role === 'leader' && a.name !== r.requester }, info(req, v.t)));
    });

    app.post<{ Params: { id: string }; Body: { decision?: string; note?: string } }>(
      '/retention/:id/decide',
      {
        config: { access: 'write' },
        schema: { params: ID, body: { type: 'object', properties: { decision: { type: 'string', enum: ['approve', 'refuse'] }, note: { type: 'string', maxLength: 2000 }, _csrf: { type: 'string' } } } },
      },
      async (req, reply) => {
        const approve = req.body.decision === 'approve';
        const r = await ctx.retention.decide(actor(req), req.params.id, { approve, note: req.body.note ?? '' });
        return reply.redirect(`${retentionHref(r.id)}?m=${approve ? 'approved' : 'refused'}`, 303);
      },
    );
  };
}
