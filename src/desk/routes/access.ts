/**
 * Viewing under approval (docs/desk.md §6) over approvals.ts: requests (any account that may write), decisions (a
 * leader, never on their own request), the segments of an approved request decrypted on the server and streamed
 * (plaintext.ts), and the register for leaders and supervisors, with its CSV. Every act is registered in the audit
 * trail by approvals.ts; a refusal is a page in the reader's language saying why.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { peer, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import type { DeskKey } from '../i18n.js';
import { sessionRefs, type Actor, type Scope, type ViewRequest } from '../approvals.js';
import { accessListPage, accessPage, requestHref, stateOf, type SegmentLine } from '../pages/access.js';
import { registerPage } from '../pages/register.js';
import { registerCsv, registerEntries } from '../register.js';
import { mayOversee, mayWrite } from '../roles.js';

const MESSAGES: Record<string, { kind: 'info' | 'error'; key: DeskKey }> = {
  requested: { kind: 'info', key: 'access.msg.requested' },
  approved: { kind: 'info', key: 'access.msg.approved' },
  refused: { kind: 'info', key: 'access.msg.refused' },
};
const QUERY = { type: 'object', properties: { m: { type: 'string', maxLength: 20 }, session: { type: 'string', maxLength: 401 }, lang: { type: 'string', maxLength: 10 } } } as const;
const ID = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } } as const;
const SEGMENT = {
  type: 'object',
  required: ['id', 'device', 'segment'],
  properties: { id: ID.properties.id, device: { type: 'string', maxLength: 200 }, segment: { type: 'string', maxLength: 200 } },
} as const;

const actor = (req: FastifyRequest): Actor => ({ name: req.account!.name, role: req.account!.role, ip: peer(req) });

export function accessRoutes(ctx: DeskContext) {
  /** A request the reader may see: their own, or any for a leader or supervisor (who decide and oversee them). */
  const load = async (req: FastifyRequest, id: string): Promise<ViewRequest> => {
    const r = await ctx.approvals.get(id);
    if (!r || (r.requester !== req.account!.name && !mayOversee(req.account!.role))) throw new Refusal(404, 'access.noRequest');
    return r;
  };
  const segmentsOf = async (r: ViewRequest): Promise<SegmentLine[]> => {
    const out: SegmentLine[] = [];
    for (const ref of r.sessions) {
      const [device, session] = ref.split('/') as [string, string];
      const rows = await ctx.db.query<{ name: string; source_id: string; start_ms: number | string; end_ms: number | string; size: number | string }>(
        'SELECT name, source_id, start_ms, end_ms, size FROM segments WHERE device_id = $1 AND session_id = $2 ORDER BY start_ms, source_id, name',
        [device, session],
      );
      out.push(...rows.map((g) => ({ device, session, name: g.name, source: g.source_id, startMs: Number(g.start_ms), endMs: Number(g.end_ms), size: Number(g.size) })));
    }
    return out;
  };
  const message = (m: string | undefined) => (m === undefined ? undefined : MESSAGES[m]);

  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: { m?: string; session?: string } }>('/access', { config: { access: 'read' }, schema: { querystring: QUERY } }, async (req, reply) => {
      const v = viewOf(ctx, req, reply);
      const a = req.account!;
      const list = await ctx.approvals.list(mayOversee(a.role) ? undefined : a.name);
      const m = message(req.query.m);
      return reply.type('text/html; charset=utf-8').send(accessListPage(v, list, { mayAsk: mayWrite(a.role), prefill: req.query.session ?? '' }, m ? { kind: m.kind, text: v.t(m.key) } : undefined));
    });

    app.post<{ Body: { sessions?: string; reason?: string; scope?: string } }>(
      '/access',
      {
        config: { access: 'write' },
        schema: { body: { type: 'object', properties: { sessions: { type: 'string', maxLength: 5000 }, reason: { type: 'string', maxLength: 2000 }, scope: { type: 'string', maxLength: 10 }, _csrf: { type: 'string' } } } },
      },
      async (req, reply) => {
        const r = await ctx.approvals.request(actor(req), { sessions: sessionRefs(req.body.sessions ?? ''), reason: req.body.reason ?? '', scope: (req.body.scope ?? 'view') as Scope });
        return reply.redirect(`${requestHref(r.id)}?m=requested`, 303);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { m?: string } }>('/access/:id', { config: { access: 'read' }, schema: { params: ID, querystring: QUERY } }, async (req, reply) => {
      const r = await load(req, req.params.id);
      const v = viewOf(ctx, req, reply);
      const a = req.account!;
      const m = message(req.query.m);
      // The segments only to the requester of an approval in its window: nobody else may act under it.
      const segments = stateOf(r, ctx.now()) === 'approved' && r.requester === a.name ? await segmentsOf(r) : undefined;
      const mayDecide = a.role === 'leader' && a.name !== r.requester;
      return reply.type('text/html; charset=utf-8').send(accessPage(v, r, { mayDecide, segments, canDecrypt: ctx.plaintext.configured }, m ? { kind: m.kind, text: v.t(m.key) } : undefined));
    });

    app.post<{ Params: { id: string }; Body: { decision?: string; scope?: string; hours?: string; note?: string } }>(
      '/access/:id/decide',
      {
        config: { access: 'write' },
        schema: {
          params: ID,
          body: { type: 'object', properties: { decision: { type: 'string', enum: ['approve', 'refuse'] }, scope: { type: 'string', maxLength: 10 }, hours: { type: 'string', maxLength: 6 }, note: { type: 'string', maxLength: 2000 }, _csrf: { type: 'string' } } },
        },
      },
      async (req, reply) => {
        const r = await load(req, req.params.id);
        const b = req.body;
        const hours = /^\d{1,6}$/.test(b.hours ?? '') ? Number(b.hours) : NaN;
        const d = b.decision === 'approve' ? { approve: true as const, scope: (b.scope ?? 'view') as Scope, hours, note: b.note ?? '' } : { approve: false as const, note: b.note ?? '' };
        await ctx.approvals.decide(actor(req), r.id, d);
        return reply.redirect(`${requestHref(r.id)}?m=${d.approve ? 'approved' : 'refused'}`, 303);
      },
    );

    app.get<{ Params: { id: string; device: string; segment: string }; Querystring: { download?: string } }>(
      '/access/:id/segments/:device/:segment',
      { config: { access: 'read' }, schema: { params: SEGMENT, querystring: { type: 'object', properties: { download: { type: 'string', enum: ['1'] }, lang: { type: 'string', maxLength: 10 } } } } },
      async (req, reply) => {
        const { id, device, segment } = req.params;
        if (!ctx.plaintext.configured) throw new Refusal(503, 'access.noKey');
        const s = await ctx.plaintext.locate(device, segment);
        if (!s) throw new Refusal(404, 'access.noSegment');
        const act = req.query.download === '1' ? 'export' : 'decrypt';
        await ctx.approvals.requireApproval(actor(req), [`${device}/${s.session}`], act, { request: id, what: { device, segment, file: s.manifest.file } });
        const { stream, size } = await ctx.plaintext.open(s);
        return reply
          .type('video/mp2t')
          .header('content-length', size)
          .header('cache-control', 'no-store')
          .header('content-disposition', `${act === 'export' ? 'attachment' : 'inline'}; filename="${segment.replace(/[^\w.-]/g, '_')}.ts"`)
          .send(stream);
      },
    );

    app.get('/register', { config: { access: 'oversee' } }, async (req, reply) => {
      return reply.type('text/html; charset=utf-8').send(registerPage(viewOf(ctx, req, reply), await registerEntries(ctx.db)));
    });

    app.get('/register.csv', { config: { access: 'oversee' } }, async (req, reply) => {
      const rows = await registerEntries(ctx.db, 100_000);
      await ctx.audit.record(req.account!.name, 'export-csv', peer(req), { what: 'register', rows: rows.length });
      const day = new Date(ctx.now()).toISOString().slice(0, 10);
      const v = viewOf(ctx, req, reply);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="recgw-register-${day}.csv"`).send(registerCsv(v.t, ctx.config.zone, rows));
    });
  };
}
