/** Placeholder until the statistics page lands. */
import type { FastifyInstance } from 'fastify';
import type { DeskContext } from '../context.js';

export function statsRoutes(_ctx: DeskContext) {
  return async (_app: FastifyInstance): Promise<void> => {};
}
