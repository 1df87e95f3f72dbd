/** GET /sessions: find sessions (src/index/search.ts), a page at a time by keyset. */
import type { FastifyInstance } from 'fastify';
import { DEFAULT_PAGE, searchSessions, type SessionFilter } from '../../index/search.js';
import { peer, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import { periodOf } from '../period.js';
import { FORM_KEYS, searchPage, type SearchForm } from '../pages/search.js';

const TEXT = { type: 'string', maxLength: 200 } as const;
const QUERY = {
  type: 'object',
  properties: { ...Object.fromEntries(FORM_KEYS.map((k) => [k, TEXT])), after: { type: 'string', maxLength: 1000 }, lang: TEXT },
} as const;

/** The form's typed values as the index's filter; empty fields are no filter. */
function filterOf(f: SearchForm, zone: string): SessionFilter {
  const out: SessionFilter = {};
  for (const k of ['device', 'officer', 'matter', 'caseRef', 'party', 'place'] as const) {
    const v = f[k]?.trim();
    if (v) out[k] = v;
  }
  return { ...out, ...periodOf(f.from, f.to, zone) };
}

export function searchRoutes(ctx: DeskContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: SearchForm }>('/sessions', { config: { access: 'read' }, schema: { querystring: QUERY } }, async (req, reply) => {
      const f = req.query;
      const filter = filterOf(f, ctx.config.zone);
      const v = viewOf(ctx, req, reply);
      let page;
      try {
        page = await searchSessions(ctx.db, filter, { limit: DEFAULT_PAGE, ...(f.after ? { after: f.after } : {}) });
      } catch (err) {
        if ((err as { code?: string }).code === 'usage') throw new Refusal(400, 'error.page');
        throw err;
      }
      await ctx.audit.record(req.account!.name, 'search', peer(req), { ...filter, ...(f.after ? { after: f.after } : {}), rows: page.rows.length });
      return reply.type('text/html; charset=utf-8').send(searchPage(v, f, page));
    });
  };
}
