/**
 * The desk's approval gate for agency commands that take plaintext out of the store (`recgw decrypt`, `recgw package
 * build`): the named desk account signs in with its password (standard input), and the act must be covered by an
 * approved viewing request of that person (docs/desk.md §6). The act, or its refusal, is registered in the desk's
 * signed audit trail before anything is decrypted. One gate, so both commands refuse and register alike.
 */
import { hostname } from 'node:os';
import { openIndexDb, type IndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { DeskAccounts } from '../desk/accounts.js';
import { Approvals, ApprovalRefused, cleanText, type Act } from '../desk/approvals.js';
import { DeskAudit } from '../desk/audit.js';
import { loadDeskConfig, readSampleSigner } from '../desk/config.js';
import { deskTranslator } from '../desk/i18n.js';
import { RecgwError } from '../util/errors.js';
import { readCaBundle, required } from './args.js';
import { readStdin, type Io } from './io.js';

export const APPROVAL_FLAGS = {
  'desk-config': { type: 'string' },
  approval: { type: 'string' },
  as: { type: 'string' },
  reason: { type: 'string' },
} as const;

export interface ApprovalFlags {
  'desk-config'?: string | undefined;
  approval?: string | undefined;
  as?: string | undefined;
  reason?: string | undefined;
}

/** The flags checked before any work: the desk config loads, the approval is an id, a reason is given. */
export interface ApprovalAsk {
  configPath: string;
  request: string;
  name: string;
  purpose: string;
}

export function approvalAsk(flags: ApprovalFlags, usage: string): ApprovalAsk {
  // The reason first: it is what the act is about, and what the register and a disc's page say.
  const purpose = cleanText(flags.reason);
  if ([...purpose].length < 4) throw new RecgwError('usage', `--reason is required: say why (at least 4 characters), it goes into the register\nusage: ${usage}`);
  const configPath = required(flags['desk-config'], '--desk-config', usage);
  const request = required(flags.approval, '--approval', usage);
  if (!/^[0-9a-f-]{36}$/.test(request)) throw new RecgwError('usage', `--approval ${JSON.stringify(request)} is not a request's id: give the id the desk shows on the approved request (/access/<id>)`);
  const name = required(flags.as, '--as', usage);
  return { configPath, request, name, purpose };
}

/**
 * Sign in and require the approval for `act` on the sessions `sessions` names (`device/session`, read with the
 * index open), registering `what`. True when approved; false after printing the refusal in Chinese and English.
 */
export async function underApproval(ask: ApprovalAsk, io: Io, act: Act, sessions: (db: IndexDb) => Promise<string[]>, what: Record<string, unknown>): Promise<boolean> {
  const config = loadDeskConfig(ask.configPath);
  const password = await (io.readIn ?? readStdin)();
  const db = await openIndexDb(config.database);
  try {
    await migrateIndex(db);
    const account = await new DeskAccounts(db).check(ask.name, password);
    if (!account) throw new RecgwError('usage', `--as ${ask.name}: no such desk account, a wrong password (read from standard input), or the account is disabled`);
    const approvals = new Approvals(db, new DeskAudit(db, Date.now, readSampleSigner(config)), Date.now, config.zone, readCaBundle(config.ca));
    try {
      await approvals.requireApproval({ name: account.name, role: account.role, ip: `cli:${hostname()}` }, await sessions(db), act, {
        request: ask.request,
        what: { ...what, purpose: ask.purpose },
        via: 'cli',
      });
      return true;
    } catch (err) {
      if (!(err instanceof ApprovalRefused)) throw err;
      io.err(`${deskTranslator('zh-CN')(err.key, err.vars)}\n${deskTranslator('en')(err.key, err.vars)}\n`);
      return false;
    }
  } finally {
    await db.close();
  }
}
