/**
 * A real PostgreSQL for a test (src/demo/throwaway-postgres.ts: initdb in a temp folder, a free port, the socket in
 * the folder, run as user postgres), under the watchdog that kills it when the test process dies however it dies.
 * withPostgres() gives a block of tests one server; each test that wants a clean index makes a database of its own.
 */
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../src/demo/throwaway-postgres.js';
import { freePort, tmp } from './fixtures.js';
import { spawnWatched } from './watched-process.js';

export async function startPostgres(): Promise<ThrowawayPostgres> {
  return startThrowawayPostgres({
    dir: tmp('recgw-pg-'),
    port: await freePort(),
    spawn: (command, args, opts, onOutput) => spawnWatched(command, args, onOutput, { ...(opts.user ?? {}), cwd: opts.cwd }),
  });
}

/** A new, empty database on the server; its URL. */
export async function createDatabase(server: ThrowawayPostgres, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  return server.url.replace(/\/postgres$/, `/${name}`);
}

/** One server for the tests of the block: started in beforeAll, stopped (and its folder removed) in afterAll. */
export function withPostgres(): { server(): ThrowawayPostgres } {
  let server: ThrowawayPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    server: () => {
      if (!server) throw new Error('withPostgres: the server starts in beforeAll; use it inside a test or a hook');
      return server;
    },
  };
}
