/**
 * `recgw retention list --desk-config desk.json [--json]`: the expiry list (closed sessions not marked as evidence
 * whose term ran out), as the desk's /retention page shows it.
 * `recgw retention apply --config receiver.json --desk-config desk.json`: on the agency's receiver side, carries out
 * the deletions leaders approved in the desk (docs/operations.md, retention): first finishes any deletion an earlier
 * run logged but did not finish; then for each approved request whose approval its register row attests, and each of
 * its sessions still closed, unmarked and past its term by this machine's clock, the signed event goes into the agency
 * log and deletions.jsonl, then the files go through the store, and the desk's register records it. There is no flag
 * to name sessions, a time or a term: only what the desk approved, checked again here, is deleted.
 */
import { hostname, userInfo } from 'node:os';
import { openIndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { DeskAudit } from '../desk/audit.js';
import { loadDeskConfig, readSampleSigner, type DeskConfig } from '../desk/config.js';
import { Retention } from '../desk/retention.js';
import { deletionHash, encodeDeletion } from '../evidence/deletion-event.js';
import { loadReceiverConfig } from '../receiver/config.js';
import { loadReceiverKeys } from '../receiver/keys.js';
import { openAgencyLog } from '../receiver/log-key.js';
import { LogFiles } from '../receiver/log-files.js';
import { openReceiverSql } from '../receiver/open-sql.js';
import { RetentionRefused } from '../receiver/retention-plan.js';
import { RetentionRemover } from '../receiver/retention-remover.js';
import { openStore } from '../store/open-store.js';
import { localTime } from '../util/local-time.js';
import { RecgwError, describe } from '../util/errors.js';
import { parse, readCaBundle, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw retention list --desk-config <desk.json> [--json] | recgw retention apply --config <receiver.json> --desk-config <desk.json>';

export async function retentionCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { config: { type: 'string' }, 'desk-config': { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  const desk = loadDeskConfig(required(values['desk-config'], '--desk-config', USAGE));
  const now = io.now ?? Date.now;
  if (sub === 'list') return list(desk, now, io, values.json === true);
  if (sub === 'apply') return apply(required(values.config, '--config', USAGE), desk, now, io);
  throw new RecgwError('usage', `usage: ${USAGE}`);
}

async function withRetention<T>(desk: DeskConfig, now: () => number, fn: (r: Retention) => Promise<T>): Promise<T> {
  const db = await openIndexDb(desk.database);
  try {
    await migrateIndex(db);
    return await fn(new Retention(db, new DeskAudit(db, now, readSampleSigner(desk)), now, desk.retention?.years, desk.zone, readCaBundle(desk.ca)));
  } finally {
    await db.close();
  }
}

async function list(desk: DeskConfig, now: () => number, io: Io, json: boolean): Promise<number> {
  const expired = await withRetention(desk, now, (r) => r.expired());
  if (json) {
    io.out(`${JSON.stringify({ years: desk.retention?.years ?? null, expired: expired.map((s) => ({ ...s, end: new Date(s.endMs).toISOString(), expires: new Date(s.expiresMs).toISOString() })) })}\n`);
    return 0;
  }
  if (!desk.retention) {
    io.out('no retention term is configured (retention.years in the desk config): nothing expires\n');
    return 0;
  }
  io.out(`到期清单 (expiry list): ${expired.length} session(s) past their term of ${desk.retention.years} year(s)\n`);
  for (const s of expired) io.out(`${s.device}/${s.session}\t${s.caseRef}\tended ${localTime(s.endMs, desk.zone, 'zh')}\tterm ran out ${localTime(s.expiresMs, desk.zone, 'zh')}\n`);
  return 0;
}

async function apply(configPath: string, desk: DeskConfig, now: () => number, io: Io): Promise<number> {
  if (!desk.retention) throw new RecgwError('config', 'the desk config has no retention.years: without a term nothing can be deleted (docs/desk.md §1)');
  const cfg = loadReceiverConfig(configPath);
  const { caPems, signer } = loadReceiverKeys(cfg, new Date(now()));
  const store = openStore(cfg.store, cfg.s3);
  // In a versioned bucket a removal leaves the object's versions behind: refused, as the receiver refuses to write.
  const unsure = await store.checkWriteOnce();
  if (unsure) io.err(`${unsure}\n`);
  const sql = await openReceiverSql(cfg);
  let refused = 0;
  try {
    const { log, certPem, sm2CertPem } = openAgencyLog(cfg, caPems, sql, new Date(now()));
    const files = new LogFiles(store, log);
    await files.republish(certPem, sm2CertPem);
    const remover = new RetentionRemover(store, sql, log, signer, cfg.name, now, () => files.publish());
    const earlier = await remover.finishAll();
    if (earlier.finished > 0) io.out(`finished ${earlier.finished} deletion(s) an earlier run logged but did not finish\n`);
    for (const f of earlier.failed) io.err(`could not finish deletion ${f.id}, logged by an earlier run (${f.why}): it is tried again at the next run\n`);
    refused += earlier.failed.length;
    const actor = { name: `cli:${userInfo().username}`, role: 'leader' as const, ip: `cli:${hostname()}` };
    await withRetention(desk, now, async (retention) => {
      for (const { request: r, refused: why, attestation } of await retention.toApply()) {
        if (why || !attestation) {
          refused++;
          io.err(`request ${r.id} refused: ${why}\n`);
          continue;
        }
        let all = true;
        for (const ref of r.sessions) {
          const [device, session] = [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)];
          try {
            const e = await remover.delete({
              request: r.id,
              device,
              session,
              termYears: desk.retention!.years,
              approval: { id: r.id, proposer: r.requester, approver: r.decider!, approvedAt: new Date(r.decidedMs!).toISOString() },
              attestation,
            });
            await retention.deleted(actor, r, ref, e.files.length, deletionHash(encodeDeletion(e)));
            io.out(`deleted ${ref}: ${e.files.length} file(s), event ${deletionHash(encodeDeletion(e))} in the agency log\n`);
          } catch (err) {
            if (!(err instanceof RetentionRefused)) throw err;
            all = false;
            refused++;
            io.err(`${describe(err)}\n`);
          }
        }
        if (all) await retention.applied(r.id);
      }
    });
  } finally {
    await sql.close();
    await store.close();
  }
  return refused > 0 ? 1 : 0;
}
