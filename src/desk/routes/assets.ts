/** The desk's stylesheet, built in (the CSP allows no inline style and no other origin). */
import type { FastifyInstance } from 'fastify';
import { DESK_CSS } from '../view.js';

export function assetRoutes() {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/assets/desk.css', { config: { access: 'public' } }, (_req, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'private, max-age=3600').send(DESK_CSS),
    );
  };
}
