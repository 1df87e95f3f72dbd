/**
 * `recgw console reset-password --config FILE [--user NAME]`: a one-time code to set a new console password when
 * it is lost. Run on the gateway by someone with its shell (it writes into the state folder); the code goes with
 * a new password into the console's /reset page. Reads the state database without writing to it.
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { stateDbPath } from '../app/evidence-core.js';
import { openStateDb } from '../state/db.js';
import { AccountStore } from '../console/accounts.js';
import { consoleDir } from '../console/tls.js';
import { RESET_MINUTES, issueResetCode } from '../console/reset-code.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw console reset-password --config FILE [--user NAME]';

export async function consoleCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'reset-password') throw new RecgwError('usage', `unknown console command ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  const { values } = parse(rest, { config: { type: 'string' }, user: { type: 'string' } }, USAGE);
  const config = loadConfig(required(values.config, '--config', USAGE));
  const dbFile = stateDbPath(config.stateDir);
  if (!existsSync(dbFile)) throw new RecgwError('config', `no state database at ${dbFile}: the gateway has not run with this config yet (its console then offers the first-run setup)`);
  const db = openStateDb(dbFile, { readonly: true, check: false });
  let name: string;
  try {
    const accounts = new AccountStore(db).list();
    if (accounts.length === 0) throw new RecgwError('config', 'the console has no account yet: open it in a browser for the first-run setup (the code is in the state folder\'s console/setup-code)');
    const admins = accounts.filter((a) => a.role === 'admin' && !a.disabled);
    if (values.user === undefined) {
      if (admins.length !== 1) {
        throw new RecgwError('usage', `name the account with --user (admins: ${admins.map((a) => a.name).join(', ') || 'none enabled'}; all accounts: ${accounts.map((a) => a.name).join(', ')})`);
      }
      name = admins[0]!.name;
    } else {
      name = values.user.trim().toLowerCase();
      const a = accounts.find((x) => x.name === name);
      if (!a) throw new RecgwError('usage', `no console account ${JSON.stringify(name)}; accounts: ${accounts.map((x) => x.name).join(', ')}`);
      if (a.disabled) throw new RecgwError('usage', `the console account ${name} is disabled: an admin enables it on the accounts page, or reset another account`);
    }
  } finally {
    db.close();
  }
  const { code, expires } = issueResetCode(consoleDir(config.stateDir), name, Date.now());
  io.out(
    `Reset code for the console account ${name}: ${code}\n` +
      `Valid ${RESET_MINUTES} minutes (until ${expires.toISOString()}), once. Open the console's /reset page, enter the code and the new password.\n` +
      `重置码（账户 ${name}）：${code}，${RESET_MINUTES} 分钟内有效，仅可使用一次。请打开控制台的“忘记密码”页面，输入重置码并设置新密码。\n`,
  );
  return 0;
}

