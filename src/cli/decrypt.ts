/**
 * `recgw decrypt <device-dir> <segment> --agency-key K --out FILE --desk-config desk.json --approval ID --as NAME
 * --reason TEXT` (password on standard input): for agency evidence staff, only under an approved viewing request
 * (docs/desk.md §6). The desk account named signs in with its password; the approval must be that person's, approved
 * by a leader, in its window, with export in its scope (a decrypted file is an export) and covering the segment's
 * session; the act is registered in the desk's register (its signed audit trail) before anything is decrypted, and a
 * refusal is registered too. The file is opened twice: first in memory, checking the tag (GCM, or HMAC-SM3 under gm)
 * and the manifest's plaintext hash, then into OUT.partial, renamed to OUT when the same hash came out again. A
 * partial file an interrupted run (SIGINT, SIGTERM) leaves is removed, and one a killed run left is removed by the next.
 */
import { unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { loadPrivateKey } from '../pki/keys.js';
import { findManifest } from '../evidence/find-manifest.js';
import { openSealedFile } from '../evidence/open-sealed.js';
import { hashHex, hashName } from '../evidence/segment-scheme.js';
import { LEDGER_FILE } from '../evidence/head.js';
import type { IndexDb } from '../index/database.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import { APPROVAL_FLAGS, approvalAsk, underApproval } from './desk-approval.js';
import type { Io } from './io.js';

const USAGE =
  'recgw decrypt <device-dir> <segment-name> --agency-key <key.pem> --out <file.ts> --desk-config <desk.json> --approval <request-id> --as <desk-account> --reason <text>  (the account\'s password on standard input)';

export async function decryptCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { 'agency-key': { type: 'string' }, out: { type: 'string' }, ...APPROVAL_FLAGS }, USAGE, true);
  if (positionals.length !== 2) throw new RecgwError('usage', `usage: ${USAGE}`);
  const [dir, segment] = positionals as [string, string];
  const keyPath = required(values['agency-key'], '--agency-key', USAGE);
  const out = required(values.out, '--out', USAGE);
  const ask = approvalAsk(values, USAGE);
  const m = await findManifest(dir, segment);
  if (!m) throw new RecgwError('invalid', `no segment named ${segment} in ${join(dir, LEDGER_FILE)}`);
  const folder = basename(resolve(dir));
  const sessions = async (db: IndexDb): Promise<string[]> => {
    const [dev] = await db.query<{ device_id: string }>('SELECT device_id FROM devices WHERE folder = $1', [folder]);
    if (!dev) throw new RecgwError('invalid', `the index holds no device folder ${folder}: run recgw index rebuild over the store ${dir} belongs to`);
    return [`${dev.device_id}/${m.sessionId}`];
  };
  if (!(await underApproval(ask, io, 'export', sessions, { device: folder, segment, file: m.file, out: resolve(out) }))) return 1;

  const key = loadPrivateKey(keyPath, 'agency private key', 'pass agency-key.pem');
  const sealed = join(dir, m.file);
  // Checked in memory first (tag, then the manifest's plaintext hash), so a file that does not open writes nothing.
  const check = await openSealedFile(sealed, m.enc, key, async () => {});
  if (!check.ok || check.hash !== hashHex(m.plain)) {
    io.err(`${segment}: ${check.ok ? 'the decrypted content does not match the manifest' : check.reason}; nothing written\n`);
    return 1;
  }
  const tmp = `${out}.partial`;
  // A .partial left by a decrypt that was killed is plaintext nobody asked to keep.
  if (await unlink(tmp).then(() => true, () => false)) io.err(`removed ${tmp}, left by an earlier decrypt that did not finish\n`);
  const fh = await open(tmp, 'wx', 0o600);
  const interrupted = (): void => {
    try {
      unlinkSync(tmp);
    } finally {
      process.exit(130);
    }
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  let r;
  try {
    r = await openSealedFile(sealed, m.enc, key, async (c) => void (await fh.write(c)));
  } finally {
    await fh.close();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
  if (!r.ok || r.hash !== check.hash) {
    await unlink(tmp);
    io.err(`${segment}: ${r.ok ? 'the file changed while it was decrypted' : r.reason}; nothing written\n`);
    return 1;
  }
  await rename(tmp, out);
  io.out(`${segment}: ${r.size} bytes, ${hashName(m.plain)} ${r.hash} as in the manifest -> ${out}\n`);
  return 0;
}
