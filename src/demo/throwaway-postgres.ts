/**
 * A throwaway PostgreSQL in a folder, for the tests and benches of the agency index (and a demo that wants one):
 * `initdb` into the folder, `postgres` on 127.0.0.1 and a free port with its socket in the folder, trust
 * authentication, no fsync (nothing in it outlives the run). Started as root, it runs as user `postgres` (PostgreSQL
 * refuses root), which owns the folder. stop() stops the server and removes the folder.
 *
 * The binaries: Debian's `postgresql` package puts them in /usr/lib/postgresql/<major>/bin, off the PATH; a machine
 * may also link them onto it. PATH first, then the newest Debian major.
 */
import { execFile } from 'node:child_process';
import { accessSync, appendFileSync, chownSync, constants, existsSync, readdirSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { RecgwError, describe } from '../util/errors.js';
import { systemUser, type SystemUser } from '../util/system-user.js';
import { spawnServer, type SpawnServer } from './spawn-server.js';


const DEBIAN_ROOT = '/usr/lib/postgresql';
const INSTALL = "install Debian's postgresql package (apt-get install -y postgresql)";

export interface ThrowawayPostgresOptions {
  /** An empty folder it takes over: the cluster goes to `dir/data`, the socket to `dir`. Removed by stop(). */
  dir: string;
  port: number;
  spawn?: SpawnServer;
  /** How long to wait for the first connection (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Keep the cluster: start on the one already in `dir/data` if there is one (initdb only into an empty folder), and
   * leave the folder in place at stop() (a bench's cached index, .bench/). Off: a new cluster, removed at stop().
   */
  keep?: boolean;
  /**
   * Also listen on `listen` and let clients from `clients` (a CIDR) in without a password: a test's second host (a
   * network namespace) that must reach the server over a real link, not the loopback.
   */
  alsoFrom?: { listen: string; clients: string };
}

export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  dir: string;
  /** Fast shutdown (SIGINT), SIGKILL after 10 s; then the folder is removed (unless kept). */
  stop(): Promise<void>;
}

/** Where `name` (initdb, postgres) is: on the PATH, else in the newest /usr/lib/postgresql/<major>/bin. */
export function findPostgresBinary(name: string): string {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  let majors: string[] = [];
  try {
    majors = readdirSync(DEBIAN_ROOT).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // no Debian PostgreSQL
  }
  for (const dir of [...onPath, ...majors.map((m) => join(DEBIAN_ROOT, m, 'bin'))]) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  throw new RecgwError('config', `cannot find PostgreSQL's ${name} on the PATH or in ${DEBIAN_ROOT}/*/bin: ${INSTALL}`);
}

export async function startThrowawayPostgres(o: ThrowawayPostgresOptions): Promise<ThrowawayPostgres> {
  const initdb = findPostgresBinary('initdb');
  const postgres = findPostgresBinary('postgres');
  const user = process.getuid?.() === 0 ? systemUser('postgres', `to run PostgreSQL as (it refuses root): ${INSTALL}`) : undefined;
  if (user) chownSync(o.dir, user.uid, user.gid);
  const data = join(o.dir, 'data');
  // -N: no fsync of the new cluster; C.UTF-8: Chinese characters count as letters (pg_trgm indexes them).
  if (!(o.keep && existsSync(join(data, 'PG_VERSION')))) {
    await run(initdb, ['-D', data, '-N', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '-U', 'postgres'], user, o.dir);
    if (o.alsoFrom) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${o.alsoFrom.clients} trust\n`);
  }

  let output = '';
  const server = (o.spawn ?? spawnServer)(
    postgres,
    ['-D', data, '-p', String(o.port), '-k', o.dir, '-h', o.alsoFrom ? `127.0.0.1,${o.alsoFrom.listen}` : '127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    { user, cwd: o.dir },
    (t) => (output = (output + t).slice(-4000)),
  );
  let exited = false;
  void server.exited.then(() => (exited = true));
  const url = `postgres://postgres@127.0.0.1:${o.port}/postgres`;

  const stop = async (): Promise<void> => {
    if (!exited) {
      server.proc.kill('SIGINT');
      const t = setTimeout(() => server.proc.kill('SIGKILL'), 10_000);
      await server.exited;
      clearTimeout(t);
    }
    if (!o.keep) rmSync(o.dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`postgres exited at start:\n${output}`);
    }
    if (await accepts(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`postgres did not accept connections on port ${o.port} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, port: o.port, dir: o.dir, stop };
}

function run(file: string, args: string[], user: SystemUser | undefined, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, ...(user ?? {}) }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} failed: ${describe(err)}\n${stdout}${stderr}`)) : resolve(),
    );
  });
}

async function accepts(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
