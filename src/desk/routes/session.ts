/** Placeholder until the session page lands. */
import type { FastifyInstance } from 'fastify';
import type { DeskContext } from '../context.js';

export function sessionRoutes(_ctx: DeskContext) {
  return async (_app: FastifyInstance): Promise<void> => {};
}
