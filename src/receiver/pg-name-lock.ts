/**
 * A receiver's name lock when receivers coordinate through PostgreSQL: a session advisory lock on a connection of its
 * own, held for the life of the process. Receivers on several hosts share a store on NFS, where a flock(2) is not to
 * be trusted; the database they share is. The server drops the lock when the session ends: at once when the process
 * dies (its socket is closed), and within about 25 s when its host does (the session's TCP keepalives when it is
 * idle, TCP_USER_TIMEOUT when the server's last answer was not yet acknowledged). The session
 * is named after its host and process, so that a refused twin can say where the running one is.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { RecgwError, describe } from '../util/errors.js';
import { explainPgError } from '../index/postgres-db.js';
import type { HeldLock } from '../state/folder-lock.js';
import { lockKey } from './receiver-sql.js';

const CONNECT_TIMEOUT_MS = 10_000;
/** Seconds of silence before the server probes a session, between probes, and probes unanswered before it ends it. */
const KEEPALIVE = { idle: 10, interval: 5, count: 3 };
/**
 * How long (ms) data the server sent may stay unacknowledged before it ends the session. Keepalives only run on an
 * idle connection: a host that dies before acknowledging the server's last answer (the lock's own reply, say) leaves
 * it retransmitting for ~15 minutes (tcp_retries2) while the lock stays held (test/integration/pg-name-lock.test.ts
 * measured >45 s and counting). The same 25 s as the keepalives.
 */
const USER_TIMEOUT_MS = (KEEPALIVE.idle + KEEPALIVE.interval * KEEPALIVE.count) * 1000;

export interface PgNameLock {
  inUse: string;
  fix: (pid: number | undefined) => string;
  /** The lock's session ended while held (server restart, network): the name is no longer this receiver's alone. */
  lost: (why: string) => void;
}

/** Take the name lock `name` in the database at `url`, or refuse (exit 2) naming the session that holds it. */
export async function lockNameInPostgres(url: string, where: string, name: string, refusal: PgNameLock): Promise<HeldLock> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // application_name is cut at 63 bytes: the host and pid first, the name is known to whoever reads it.
    application_name: `recgw-receiver@${hostname()}:${process.pid}`.slice(0, 63),
    options: `-c tcp_keepalives_idle=${KEEPALIVE.idle} -c tcp_keepalives_interval=${KEEPALIVE.interval} -c tcp_keepalives_count=${KEEPALIVE.count} -c tcp_user_timeout=${USER_TIMEOUT_MS}`,
  });
  let held = false;
  client.on('error', (err) => {
    if (held) refusal.lost(describe(err));
  });
  try {
    await client.connect();
    const key = lockKey({ lock: `receiver-name\0${name}` })!;
    const [got] = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows;
    if (!got?.ok) {
      const holder = await holderOf(client, key);
      await client.end().catch(() => undefined);
      throw new RecgwError('locked', `${refusal.inUse}: ${holder} (an advisory lock in the ${where}). ${refusal.fix(undefined)} Nothing was changed.`);
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw explainPgError(err, where);
  }
  held = true;
  client.on('end', () => {
    if (held) refusal.lost('the connection holding it ended');
  });
  return {
    file: `advisory lock receiver-name ${name} in the ${where}`,
    release() {
      if (!held) return;
      held = false;
      // Ending the session releases the lock.
      void client.end().catch(() => undefined);
    },
  };
}

/** Who holds advisory lock `key` (a bigint lock is classid = high 32 bits, objid = low 32 bits, objsubid 1). */
async function holderOf(client: pg.Client, key: number): Promise<string> {
  const { rows } = await client.query<{ app: string | null; addr: string | null; since: Date | null }>(
    `SELECT a.application_name AS app, host(a.client_addr) AS addr, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [Math.floor(key / 2 ** 32), key % 2 ** 32],
  );
  const h = rows[0];
  if (!h) return 'held by a session that has just ended or is not visible to this user (try again in a moment)';
  const at = h.app?.startsWith('recgw-receiver@') ? `the receiver process ${h.app.slice('recgw-receiver@'.length)} (host:pid)` : `the session ${JSON.stringify(h.app ?? '')}`;
  return `held by ${at}${h.addr ? ` connected from ${h.addr}` : ''}${h.since ? ` since ${h.since.toISOString()}` : ''}`;
}
