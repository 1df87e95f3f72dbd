/**
 * `recgw package build --store DIR|s3://BUCKET/PREFIX [--s3-endpoint URL ...] (--session ID ... | --from T --to T) --extractor NAME --reason TEXT
 * --agency-key KEY [--agency-key KEY2] --ca CA --out DIR --desk-config F --approval ID --as NAME [--at T] [--name N] [--zone Z]`: the
 * evidence disc (证据光盘) of chosen sessions as two identical ISO images (docs/evidence-package.md). An extraction is
 * an export: only under an approved viewing request of the desk account named (its password on standard input) that
 * covers every chosen session, registered before anything is decrypted (desk-approval.ts). Prints the images' one
 * SHA-256, the hash to publish.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadPrivateKey } from '../pki/keys.js';
import { buildPackage } from '../package/build.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, required, storeFolder, zoneOption } from './args.js';
import { APPROVAL_FLAGS, approvalAsk, underApproval } from './desk-approval.js';
import type { Io } from './io.js';
import { noS3Flags, S3_KEYS_NOTE, S3_OPTIONS, S3_USAGE, s3Access } from './s3-access.js';
import { isS3Location, openStore } from '../store/open-store.js';

const USAGE =
  `recgw package build --store <DIR | ${S3_USAGE}> (--session ID ... | --from T --to T) --extractor NAME --reason TEXT --agency-key KEY.pem [--agency-key KEY2.pem] --ca CA.pem --out DIR --desk-config desk.json --approval REQUEST-ID --as DESK-ACCOUNT [--at T] [--name NAME] [--zone Asia/Shanghai]  (the account's password on standard input) ${S3_KEYS_NOTE}`;

/** An ISO 8601 time with its zone (or Z), as milliseconds. */
function time(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(value) || !Number.isFinite(ms)) {
    throw new RecgwError('usage', `${flag} ${JSON.stringify(value)} is not a time with its zone: give e.g. 2026-12-07T10:00:00+08:00`);
  }
  return ms;
}

/** The approval was refused (said and registered already). */
class Refused extends Error {}

export async function packageCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'build') throw new RecgwError('usage', `usage: ${USAGE}`);
  const { values } = parse(
    rest,
    {
      store: { type: 'string' },
      ...S3_OPTIONS,
      session: { type: 'string', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      extractor: { type: 'string' },
      ...APPROVAL_FLAGS,
      'agency-key': { type: 'string', multiple: true },
      ca: { type: 'string' },
      out: { type: 'string' },
      at: { type: 'string' },
      name: { type: 'string' },
      zone: { type: 'string' },
    },
    USAGE,
  );
  const location = required(values.store, '--store', USAGE);
  if (!isS3Location(location)) {
    storeFolder(location, USAGE);
    noS3Flags(values, location);
  }
  const extractor = required(values.extractor?.trim(), '--extractor', USAGE);
  // --reason is the approval's purpose (checked there) and the description page's reason.
  const ask = approvalAsk(values, USAGE);
  const reason = ask.purpose;
  const caPems = readCaBundle(required(values.ca, '--ca', USAGE));
  // More than one for a store of both suites: each segment is decrypted with the key its manifest names.
  required(values['agency-key']?.[0], '--agency-key', USAGE);
  const agencyKeys = (values['agency-key'] ?? []).map((f) => loadPrivateKey(f, 'agency private key', 'pass the agency encryption key (agency-key.pem)'));
  const out = required(values.out, '--out', USAGE);
  const from = time(values.from, '--from');
  const to = time(values.to, '--to');
  if (from !== undefined && to !== undefined && from > to) throw new RecgwError('usage', '--from is after --to');
  const at = time(values.at, '--at') ?? Date.now();
  const name = values.name ?? 'evidence';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name)) throw new RecgwError('usage', `--name ${JSON.stringify(name)}: use 1 to 32 letters, digits, - or _`);
  mkdirSync(out, { recursive: true });
  const store = openStore(location, isS3Location(location) ? s3Access(values, USAGE) : undefined);
  const r = await buildPackage({
    progress: (m) => io.err(`${m}\n`),
    store,
    selection: { sessions: values.session ?? [], ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) },
    agencyKeys,
    caPems,
    extractor,
    reason,
    at,
    zone: zoneOption(values.zone),
    outDir: out,
    name,
    authorise: async (req) => {
      const what = { extraction: name, segments: req.segments.length, extractor, out: resolve(out) };
      if (!(await underApproval(ask, io, 'export', async () => req.sessions, what))) throw new Refused();
    },
  })
    .catch((err: unknown) => {
      if (err instanceof Refused) return undefined;
      throw err;
    })
    .finally(() => store.close());
  if (!r) return 1;
  if (!r.verified) io.err('warning: the store does not verify cleanly; the findings are in report/verify.txt on the disc and on its description page\n');
  io.out(`${r.segments} segments, ${r.files} files on the disc\n${r.images[0]}\n${r.images[1]}\nSHA256SUMS ${r.sumsSha256}\n${r.sha256}\n`);
  return 0;
}
