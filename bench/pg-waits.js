// What the receivers' PostgreSQL sessions do during a phase of agency-scale (receivers on PostgreSQL), sampled every
// 25 ms from pg_stat_activity and pg_locks on the phase's database: waiting for the agency log's lock (the log
// head's row lock; also the advisory lock of the batched sequencer that was tried, bench/README.md), waiting for another lock
// (a device's advisory lock, a row), in a statement (or flushing the WAL), or idle in a transaction: the database
// waiting for the receiver process (its JavaScript, its file writes and fsyncs inside the transaction). A lock that
// limits the phase shows as waits for it; a receiver that does shows as "idle in transaction".
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const PERIOD_MS = 25;
/** lockKey({ lock: 'agency-log-sequencer' }) of src/receiver/receiver-sql.ts, as pg_locks shows an int8 key. */
const seqKey = createHash('sha256').update('recgw-lock\0agency-log-sequencer').digest().readUIntBE(0, 6);
const SEQ = { classid: Math.floor(seqKey / 2 ** 32), objid: seqKey % 2 ** 32 };

/** Start sampling the sessions of application `recgw-receiver` on the database of `url`; stop() gives the counts. */
export async function sampleWaits(url) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const counts = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await c.query(
        `SELECT a.state, a.wait_event_type, a.wait_event, a.query, l.locktype, l.classid::bigint AS classid, l.objid::bigint AS objid
           FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
          WHERE a.application_name = 'recgw-receiver' AND a.datname = current_database() AND a.pid <> pg_backend_pid()`,
      );
      for (const x of r.rows) {
        const k = kind(x);
        if (k) counts[k] = (counts[k] ?? 0) + 1;
      }
      await sleep(PERIOD_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await c.end();
      return counts;
    },
  };
}

function kind(x) {
  if (x.locktype === 'advisory') return Number(x.classid) === SEQ.classid && Number(x.objid) === SEQ.objid ? 'log lock' : 'other lock';
  // The old code's log lock: SELECT … FROM log_head … FOR UPDATE waiting for the holder's transaction.
  if (x.locktype) return /log_head/.test(x.query) ? 'log lock' : 'other lock';
  if (x.state === 'active') return 'in a statement';
  if (x.state === 'idle in transaction') return 'idle in transaction';
  return undefined;
}

/** One line: each kind's share of the samples of sessions not idle. */
export function describeWaits(counts) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return 'no busy session sampled';
  const order = ['log lock', 'other lock', 'in a statement', 'idle in transaction'];
  return `${total} busy-session samples: ${order.map((k) => `${k} ${((100 * (counts[k] ?? 0)) / total).toFixed(1)}%`).join(', ')}`;
}
