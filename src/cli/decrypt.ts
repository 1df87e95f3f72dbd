/**
 * `recgw decrypt <device-dir> <segment> --agency-key K --out FILE`: for agency evidence staff. Writes the
 * plaintext only after the tag (GCM, or HMAC-SM3 under gm) and the manifest's plaintext hash check out.
 */
import { createReadStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { loadPrivateKey } from '../pki/keys.js';
import { openSealedFile } from '../evidence/open-sealed.js';
import { hashHex, hashName } from '../evidence/segment-scheme.js';
import { parseLine } from '../evidence/entry.js';
import { ENTRY, type SegmentManifest } from '../evidence/types.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw decrypt <device-dir> <segment-name> --agency-key <key.pem> --out <file.ts>';

export async function findManifest(deviceDir: string, segment: string): Promise<SegmentManifest | undefined> {
  const rl = createInterface({ input: createReadStream(join(deviceDir, LEDGER_FILE), 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    const p = parseLine(line);
    if (p.ok && p.entry.type === ENTRY.segmentSealed && p.entry.body.segment === segment) {
      rl.close();
      return p.entry.body as unknown as SegmentManifest;
    }
  }
  return undefined;
}

export async function decryptCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { 'agency-key': { type: 'string' }, out: { type: 'string' } }, USAGE, true);
  if (positionals.length !== 2) throw new RecgwError('usage', `usage: ${USAGE}`);
  const [dir, segment] = positionals as [string, string];
  const key = loadPrivateKey(required(values['agency-key'], '--agency-key', USAGE), 'agency private key', 'pass agency-key.pem');
  const out = required(values.out, '--out', USAGE);
  const m = await findManifest(dir, segment);
  if (!m) throw new RecgwError('invalid', `no segment named ${segment} in ${join(dir, LEDGER_FILE)}`);
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
