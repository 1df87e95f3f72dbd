/**
 * `recgw desk --config FILE`: the evidence desk (docs/desk.md) in the foreground until SIGTERM or SIGINT.
 * `recgw desk account add NAME --role ROLE --config FILE [--password-stdin]`: a desk account in the index database;
 * the password is read from standard input with --password-stdin, else one is generated and printed once.
 * `recgw desk audit-check --config FILE`: checks the desk's audit chain, and against the witnesses' anchor when the
 * config has one (exit 1 when broken or refused).
 * `recgw desk audit-vkey --config FILE`: the audit chain's verifier key, for the witnesses (`recgw witness trust`).
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pino from 'pino';
import { openIndexDb, redact } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { DeskAccounts } from '../desk/accounts.js';
import { loadDeskConfig, readSampleSigner } from '../desk/config.js';
import { DeskAudit } from '../desk/audit.js';
import { checkAudit } from '../desk/audit-check.js';
import { anchorAudit, anchorProblem, loadAnchor } from '../desk/audit-anchor.js';
import { ROLES, roleOf } from '../desk/roles.js';
import { RecgwError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { parse, readCaBundle, required } from './args.js';
import { readStdin, type Io } from './io.js';
import { untilSignal } from './run.js';

const USAGE = `recgw desk --config FILE
       recgw desk account add NAME --role ROLE --config FILE [--password-stdin]
       recgw desk audit-check --config FILE
       recgw desk audit-vkey --config FILE
  ROLE: ${ROLES.map((r) => `${r.code} (${r.zh})`).join(', ')}`;

export async function deskCommand(argv: string[], io: Io): Promise<number> {
  if (argv[0] === 'account') return accountCommand(argv.slice(1), io, io.readIn ?? readStdin);
  if (argv[0] === 'audit-check') return auditCheckCommand(argv.slice(1), io);
  if (argv[0] === 'audit-vkey') return auditVkeyCommand(argv.slice(1), io);
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadDeskConfig(required(values.config, '--config', USAGE));
  const { DeskServer } = await import('../desk/server.js');
  const log = createLogger('recgw-desk');
  const signalled = untilSignal(log);
  const desk = new DeskServer({ config, logger: pino({ name: 'recgw-desk' }, pino.destination(2)) });
  try {
    await desk.start();
    const a = desk.address();
    io.err(`recgw: the evidence desk at https://${a.host}:${a.port}/ over the index ${redact(config.database)}\n`);
    await signalled;
  } finally {
    await desk.stop();
  }
  return 0;
}

/**
 * Checks the audit chain (src/desk/audit-check.ts): exit 0 when whole, 1 with each problem by seq; with
 * `auditAnchor`, its head is offered to the witnesses too, and a refusal (rows rewritten or cut off) is exit 1.
 */
async function auditCheckCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadDeskConfig(required(values.config, '--config', USAGE));
  const anchor = config.auditAnchor && loadAnchor(config.auditAnchor);
  const db = await openIndexDb(config.database);
  try {
    await migrateIndex(db);
    const c = await checkAudit(db, readCaBundle(config.ca));
    const head = c.head ? `head #${c.head.seq} ${c.head.sha256}` : 'no rows';
    if (c.ok) io.out(`the desk audit chain is whole: ${c.entries} rows, ${c.signed} signed (${c.signers.join(', ') || 'no key'}); ${head}${c.unchained ? `; ${c.unchained} rows predate the chain` : ''}\n`);
    else io.out(`the desk audit chain is broken:\n${c.problems.map((p) => `  #${p.seq}: ${p.problem}`).join('\n')}\n${head}\n`);
    if (!anchor) {
      io.out('not anchored (no auditAnchor in the desk config): a chain made again with the desk\u2019s key would look whole\n');
      return c.ok ? 0 : 1;
    }
    const results = await anchorAudit(db, anchor);
    const refused = results.map(anchorProblem).filter((p): p is string => p !== undefined);
    for (const r of results) if (r.outcome.kind === 'cosigned') io.out(`anchored: witness ${r.witness} cosigned the chain's ${r.size} rows, consistent with what it cosigned before\n`);
    if (refused.length > 0) io.out(`the desk audit chain is refused by its anchor:\n${refused.map((p) => `  ${p}`).join('\n')}\n`);
    return c.ok && refused.length === 0 ? 0 : 1;
  } finally {
    await db.close();
  }
}

/** The audit chain's verifier key (name+id+key), which each witness is given with `recgw witness trust --log`. */
async function auditVkeyCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string' } }, USAGE);
  const config = loadDeskConfig(required(values.config, '--config', USAGE));
  if (!config.auditAnchor) throw new RecgwError('usage', 'the desk config has no auditAnchor: add { "key", "origin", "witnesses" } first (docs/desk.md §5)');
  io.out(`${loadAnchor({ ...config.auditAnchor, witnesses: [] }).signer.vkey}\n`);
  return 0;
}

async function accountCommand(argv: string[], io: Io, stdin: () => Promise<string>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'add') throw new RecgwError('usage', `${sub === undefined ? 'give a subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\nusage: ${USAGE}`);
  const { values, positionals } = parse(rest, { role: { type: 'string' }, config: { type: 'string' }, 'password-stdin': { type: 'boolean' } }, USAGE, true);
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one account name\nusage: ${USAGE}`);
  const name = positionals[0]!;
  const roleText = required(values.role, '--role', USAGE);
  const role = roleOf(roleText);
  if (!role) throw new RecgwError('usage', `--role ${JSON.stringify(roleText)} is not a desk role: give one of ${ROLES.map((r) => `${r.code} (${r.zh})`).join(', ')}`);
  const config = loadDeskConfig(required(values.config, '--config', USAGE));
  const generated = !values['password-stdin'];
  const password = generated ? randomBytes(15).toString('base64url') : await stdin();
  const db = await openIndexDb(config.database);
  const where = db.where;
  try {
    await migrateIndex(db);
    await new DeskAccounts(db).add(name, role, password);
    // An account change is a desk action too: in the signed chain, by whoever ran the command on this host.
    await new DeskAudit(db, Date.now, readSampleSigner(config)).record(`cli:${userInfo().username}`, 'account-add', 'local', { account: name, role });
  } finally {
    await db.close();
  }
  io.out(`desk account ${name} (${role}) added in the ${where}\n`);
  if (generated) io.out(`password: ${password}\n(shown once: give it to ${name} in person; nothing keeps it but its hash)\n`);
  return 0;
}
