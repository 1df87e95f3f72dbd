/**
 * The supervisor sample check (制度 §22, docs/desk.md §4) over src/desk/samples.ts. Reading (the list, a sample, the
 * signed report's downloads) is for every signed-in account; drawing, checking and signing (`supervise`) for a
 * supervisor only. Every draw, check, signature and download is audited.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RecgwError } from '../../util/errors.js';
import { peer, viewOf, type DeskContext } from '../context.js';
import { Refusal } from '../guard.js';
import type { DeskKey } from '../i18n.js';
import { sampleHref, samplePage, samplesPage } from '../pages/samples.js';
import { periodOf } from '../period.js';
import { CHECKS, type Sample } from '../samples.js';

const MESSAGES: Record<string, { kind: 'info' | 'error'; key: DeskKey }> = {
  drawn: { kind: 'info', key: 'samples.msg.drawn' },
  checked: { kind: 'info', key: 'samples.msg.checked' },
  signed: { kind: 'info', key: 'samples.msg.signed' },
  unchecked: { kind: 'error', key: 'samples.msg.unchecked' },
  'signed-already': { kind: 'error', key: 'samples.msg.signedAlready' },
  'no-signer': { kind: 'error', key: 'samples.msg.noSigner' },
};
const M_QUERY = { type: 'object', properties: { m: { type: 'string', maxLength: 20 }, lang: { type: 'string', maxLength: 10 } } } as const;
const ID = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } } as const;
type Id = { id: string };

// eslint-disable-next-line no-control-regex
const clean = (text: string | undefined): string => (text ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();

export function sampleRoutes(ctx: DeskContext) {
  const load = async (id: string): Promise<Sample> => {
    const s = await ctx.samples.get(id);
    if (!s) throw new Refusal(404, 'samples.noSample');
    return s;
  };
  const message = (m: string | undefined) => (m === undefined ? undefined : MESSAGES[m]);

  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: { m?: string } }>('/samples', { config: { access: 'read' }, schema: { querystring: M_QUERY } }, async (req, reply) => {
      const v = viewOf(ctx, req, reply);
      const m = message(req.query.m);
      return reply.type('text/html; charset=utf-8').send(samplesPage(v, await ctx.samples.list(), m ? { kind: m.kind, text: v.t(m.key) } : undefined));
    });

    app.post<{ Body: { from?: string; to?: string; percent?: string; seed?: string } }>(
      '/samples',
      {
        config: { access: 'supervise' },
        schema: { body: { type: 'object', properties: { from: { type: 'string', maxLength: 10 }, to: { type: 'string', maxLength: 10 }, percent: { type: 'string', maxLength: 3 }, seed: { type: 'string', maxLength: 128 }, _csrf: { type: 'string' } } } },
      },
      async (req, reply) => {
        const period = periodOf(req.body.from, req.body.to, ctx.config.zone);
        if (period.from === undefined || period.to === undefined) throw new RecgwError('usage', 'give the period: both dates');
        const percent = /^\d{1,3}$/.test(req.body.percent ?? '') ? Number(req.body.percent) : NaN;
        const seed = clean(req.body.seed);
        const name = req.account!.name;
        const s = await ctx.samples.draw({ name, fromMs: period.from, toMs: period.to, percent, ...(seed ? { seed } : {}), now: ctx.now() });
        await ctx.audit.record(name, 'sample-draw', peer(req), { id: s.id, from: s.fromMs, to: s.toMs, percent: s.percent, seed: s.seed, population: s.population, sessions: s.items.map((i) => `${i.device}/${i.session}`) });
        return reply.redirect(`${sampleHref(s.id)}?m=drawn`, 303);
      },
    );

    app.get<{ Params: Id; Querystring: { m?: string } }>('/samples/:id', { config: { access: 'read' }, schema: { params: ID, querystring: M_QUERY } }, async (req, reply) => {
      const s = await load(req.params.id);
      const v = viewOf(ctx, req, reply);
      const m = message(req.query.m);
      return reply.type('text/html; charset=utf-8').send(samplePage(v, s, ctx.sampleSigner !== undefined, m ? { kind: m.kind, text: v.t(m.key) } : undefined));
    });

    app.post<{ Params: Id; Body: Record<string, string | undefined> }>(
      '/samples/:id/check',
      {
        config: { access: 'supervise' },
        schema: {
          params: ID,
          body: { type: 'object', properties: { index: { type: 'string', maxLength: 6 }, note: { type: 'string', maxLength: 500 }, _csrf: { type: 'string' }, ...Object.fromEntries(CHECKS.map((k) => [k, { type: 'string', maxLength: 5 }])) } },
        },
      },
      async (req, reply) => {
        const s = await load(req.params.id);
        if (s.signedMs !== null) return reply.redirect(`${sampleHref(s.id)}?m=signed-already`, 303);
        const index = /^\d{1,6}$/.test(req.body.index ?? '') ? Number(req.body.index) : -1;
        const item = s.items[index];
        if (!item) throw new RecgwError('usage', 'no such item in the sample');
        const finding = { matterRecorded: req.body.matterRecorded === 'yes', uninterruptedOrExplained: req.body.uninterruptedOrExplained === 'yes', handedOverInTime: req.body.handedOverInTime === 'yes', note: clean(req.body.note) };
        const name = req.account!.name;
        await ctx.samples.check(s.id, index, finding, name, ctx.now());
        await ctx.audit.record(name, 'sample-check', peer(req), { id: s.id, device: item.device, session: item.session, ...finding, facts: item.facts });
        return reply.redirect(`${sampleHref(s.id)}?m=checked#item-${index}`, 303);
      },
    );

    app.post<{ Params: Id }>('/samples/:id/sign', { config: { access: 'supervise' }, schema: { params: ID } }, async (req, reply) => {
      const s = await load(req.params.id);
      if (s.signedMs !== null) return reply.redirect(`${sampleHref(s.id)}?m=signed-already`, 303);
      if (!ctx.sampleSigner) return reply.redirect(`${sampleHref(s.id)}?m=no-signer`, 303);
      if (s.items.some((i) => !i.check)) return reply.redirect(`${sampleHref(s.id)}?m=unchecked`, 303);
      const name = req.account!.name;
      const signed = await ctx.samples.sign(s.id, ctx.sampleSigner, name, ctx.now());
      await ctx.audit.record(name, 'sample-sign', peer(req), { id: s.id, items: signed.items.length, reportSha256: sha256(signed.report ?? '') });
      return reply.redirect(`${sampleHref(s.id)}?m=signed`, 303);
    });

    for (const file of ['report.json', 'report.sig'] as const) {
      app.get<{ Params: Id }>(`/samples/:id/${file}`, { config: { access: 'read' }, schema: { params: ID } }, async (req, reply) => {
        const s = await load(req.params.id);
        if (s.report === null || s.signature === null) throw new Refusal(404, 'samples.msg.unsigned');
        await ctx.audit.record(req.account!.name, 'sample-download', peer(req), { id: s.id, file });
        const name = `recgw-sample-${s.id.slice(0, 8)}-${file}`;
        reply.header('content-disposition', `attachment; filename="${name}"`);
        // The bytes exactly as signed: the canonical JSON as kept, the signature decoded from base64.
        if (file === 'report.json') return reply.type('application/json; charset=utf-8').send(Buffer.from(s.report, 'utf8'));
        return reply.type('application/octet-stream').send(Buffer.from(s.signature, 'base64'));
      });
    }
  };
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
