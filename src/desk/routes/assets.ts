/**
 * The desk's stylesheet, built in (the CSP allows no inline style and no other origin), and `scriptRoute`, how every
 * script the desk's pages load is served from this origin (the CSP allows no other).
 */
import type { FastifyInstance } from 'fastify';
import { DESK_CSS } from '../view.js';

export function assetRoutes() {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/assets/desk.css', { config: { access: 'public' } }, (_req, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'private, max-age=3600').send(DESK_CSS),
    );
  };
}

/** A public GET of a script the pages load, cached by the browser for `maxAge` seconds. */
export function scriptRoute(app: FastifyInstance, url: string, body: string | Buffer, maxAge: number): void {
  app.get(url, { config: { access: 'public' } }, (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', `private, max-age=${maxAge}`).send(body),
  );
}
