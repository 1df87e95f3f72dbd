/**
 * `recgw decrypt <device-dir> <segment> --agency-key K --out FILE --desk-config desk.json --approval ID --as NAME
 * --reason TEXT` (password on standard input): for agency evidence staff, only under an approved viewing request
 * (docs/desk.md §6). The desk account named signs in with its password; the approval must be that person's, approved
 * by a leader, in its window, with export in its scope (a decrypted file is an export) and covering the segment's
 * session; the act is registered in the desk's register (its signed audit trail) before anything is decrypted, and a
 * refusal is registered too. Writes the plaintext only after the tag (GCM, or HMAC-SM3 under gm) and the manifest's
 * plaintext hash check out.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { loadPrivateKey } from '../pki/keys.js';
import { findManifest } from '../evidence/find-manifest.js';
import { openSealedFile } from '../evidence/open-sealed.js';
import { hashHex, hashName } from '../evidence/segment-scheme.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { openIndexDb } from '../index/database.js';
import { migrateIndex } from '../index/migrate.js';
import { DeskAccounts } from '../desk/accounts.js';
import { Approvals, ApprovalRefused, cleanText } from '../desk/approvals.js';
import { DeskAudit } from '../desk/audit.js';
import { loadDeskConfig, readSampleSigner } from '../desk/config.js';
import { deskTranslator } from '../desk/i18n.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, required } from './args.js';
import { readStdin, type Io } from './io.js';

const USAGE =
  'recgw decrypt <device-dir> <segment-name> --agency-key <key.pem> --out <file.ts> --desk-config <desk.json> --approval <request-id> --as <desk-account> --reason <text>  (the account\'s password on standard input)';

export async function decryptCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { 'agency-key': { type: 'string' }, out: { type: 'string' }, 'desk-config': { type: 'string' }, approval: { type: 'string' }, as: { type: 'string' }, reason: { type: 'string' } },
    USAGE,
    true,
  );
  if (positionals.length !== 2) throw new RecgwError('usage', `usage: ${USAGE}`);
  const [dir, segment] = positionals as [string, string];
  const keyPath = required(values['agency-key'], '--agency-key', USAGE);
  const out = required(values.out, '--out', USAGE);
  const config = loadDeskConfig(required(values['desk-config'], '--desk-config', USAGE));
  const approval = required(values.approval, '--approval', USAGE);
  if (!/^[0-9a-f-]{36}$/.test(approval)) throw new RecgwError('usage', `--approval ${JSON.stringify(approval)} is not a request's id: give the id the desk shows on the approved request (/access/<id>)`);
  const name = required(values.as, '--as', USAGE);
  const purpose = cleanText(values.reason);
  if ([...purpose].length < 4) throw new RecgwError('usage', `--reason is required: say why you decrypt (at least 4 characters), it goes into the register\nusage: ${USAGE}`);
  const m = await findManifest(dir, segment);
  if (!m) throw new RecgwError('invalid', `no segment named ${segment} in ${join(dir, LEDGER_FILE)}`);
  const password = await (io.readIn ?? readStdin)();

  const db = await openIndexDb(config.database);
  try {
    await migrateIndex(db);
    const account = await new DeskAccounts(db).check(name, password);
    if (!account) throw new RecgwError('usage', `--as ${name}: no such desk account, a wrong password (read from standard input), or the account is disabled`);
    const folder = basename(resolve(dir));
    const [dev] = await db.query<{ device_id: string }>('SELECT device_id FROM devices WHERE folder = $1', [folder]);
    if (!dev) throw new RecgwError('invalid', `the index holds no device folder ${folder}: run recgw index rebuild over the store ${dir} belongs to`);
    const approvals = new Approvals(db, new DeskAudit(db, Date.now, readSampleSigner(config)), Date.now, config.zone, readCaBundle(config.ca));
    try {
      await approvals.requireApproval({ name: account.name, role: account.role, ip: `cli:${hostname()}` }, [`${dev.device_id}/${m.sessionId}`], 'export', {
        request: approval,
        what: { device: dev.device_id, segment, file: m.file, out: resolve(out), purpose },
        via: 'cli',
      });
    } catch (err) {
      if (!(err instanceof ApprovalRefused)) throw err;
      io.err(`${deskTranslator('zh-CN')(err.key, err.vars)}\n${deskTranslator('en')(err.key, err.vars)}\n`);
      return 1;
    }
  } finally {
    await db.close();
  }

  const key = loadPrivateKey(keyPath, 'agency private key', 'pass agency-key.pem');
  const tmp = `${out}.partial`;
  const fh = await open(tmp, 'w', 0o600);
  let r;
  try {
    r = await openSealedFile(join(dir, m.file), m.enc, key, async (c) => void (await fh.write(c)));
  } finally {
    await fh.close();
  }
  if (!r.ok || r.hash !== hashHex(m.plain)) {
    await unlink(tmp);
    io.err(`${segment}: ${r.ok ? 'the decrypted content does not match the manifest' : r.reason}\n`);
    return 1;
  }
  await rename(tmp, out);
  io.out(`${segment}: ${r.size} bytes, ${hashName(m.plain)} ${r.hash} as in the manifest -> ${out}\n`);
  return 0;
}
