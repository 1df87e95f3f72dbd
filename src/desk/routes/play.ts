/**
 * Playback in the browser (docs/desk.md §6): GET /access/:id/play/:device/:session opens a session's playback under
 * an approval — requireApproval registers it once (act `view`, `playback: true`) and a grant is made for this account
 * and sign-in (playback-grants.ts); GET /play/:grant/:segment streams one segment's plaintext under that grant,
 * decrypted in memory (plaintext.ts), never as an attachment and never registered again; GET /assets/mpegts.js and
 * /assets/desk-play.js are the player (mpegts.js from node_modules, served by the desk: no CDN).
 *
 * The playback page alone widens the CSP by `media-src blob:` (Media Source Extensions hand the element a blob: URL);
 * mpegts.js runs without its worker, so no worker-src is allowed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionDetail } from '../../index/search.js';
import { ApprovalRefused, type Actor } from '../approvals.js';
import { peer, SESSION_COOKIE, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import { playPage } from '../pages/play.js';
import { scriptRoute } from './assets.js';
import { DESK_PLAY_JS } from '../play-script.js';
import { localTime } from '../../util/local-time.js';

const NAME = { type: 'string', maxLength: 200 } as const;
const PAGE = { type: 'object', required: ['id', 'device', 'session'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' }, device: NAME, session: NAME } } as const;
const STREAM = { type: 'object', required: ['grant', 'segment'], properties: { grant: { type: 'string', pattern: '^[A-Za-z0-9_-]{24}$' }, segment: NAME } } as const;

const actor = (req: FastifyRequest): Actor => ({ name: req.account!.name, role: req.account!.role, ip: peer(req) });

export function playRoutes(ctx: DeskContext) {
  const player = readFileSync(createRequire(import.meta.url).resolve('mpegts.js/dist/mpegts.js'));
  return async (app: FastifyInstance): Promise<void> => {
    scriptRoute(app, '/assets/mpegts.js', player, 86400);
    scriptRoute(app, '/assets/desk-play.js', DESK_PLAY_JS, 3600);

    app.get<{ Params: { id: string; device: string; session: string } }>(
      '/access/:id/play/:device/:session',
      { config: { access: 'read' }, schema: { params: PAGE } },
      async (req, reply) => {
        const { id, device, session } = req.params;
        if (!ctx.plaintext.configured) throw new Refusal(503, 'access.noKey');
        const d = await sessionDetail(ctx.db, device, session);
        if (!d) throw new Refusal(404, 'error.noSession');
        // One register row per opening of the playback, not per segment the page then fetches.
        const r = await ctx.approvals.requireApproval(actor(req), [`${device}/${session}`], 'view', { request: id, what: { playback: true, device } });
        const grant = ctx.grants.open({ account: req.account!.name, cookie: req.cookies[SESSION_COOKIE]!, request: r.id, device, session, untilMs: r.validUntilMs! });
        const csp = reply.getHeader('content-security-policy');
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', `${typeof csp === 'string' ? csp : "default-src 'none'"};media-src blob:`)
          .send(playPage(viewOf(ctx, req, reply), r, d, grant.id));
      },
    );

    app.get<{ Params: { grant: string; segment: string } }>('/play/:grant/:segment', { config: { access: 'read' }, schema: { params: STREAM } }, async (req, reply) => {
      const { grant: id, segment } = req.params;
      const { grant: g, problem } = ctx.grants.check(id, req.account!.name, req.cookies[SESSION_COOKIE]);
      // Refused streams are registered too, with the grant's request and session when there is a grant.
      const refuse = async (why: ApprovalRefused): Promise<never> => {
        const at = g ? { request: g.request, sessions: [`${g.device}/${g.session}`] } : { sessions: [] };
        throw await ctx.approvals.refuse(actor(req), why, { act: 'view', what: { playback: true, segment }, ...at });
      };
      if (!g) return refuse(new ApprovalRefused('play.gone'));
      if (problem === 'notYours') return refuse(new ApprovalRefused('play.notYours'));
      if (problem === 'expired') return refuse(new ApprovalRefused('access.expired', { until: localTime(g.untilMs, ctx.config.zone, 'zh') }));
      const s = await ctx.plaintext.locate(g.device, segment);
      if (!s || s.session !== g.session) return refuse(new ApprovalRefused('play.otherSession'));
      const { stream, size } = await ctx.plaintext.open(s);
      // Inline, never an attachment: the browser plays it and offers no file (an export goes through the segment route).
      return reply.type('video/mp2t').header('content-length', size).header('cache-control', 'no-store').send(stream);
    });
  };
}
