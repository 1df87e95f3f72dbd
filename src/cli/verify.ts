/**
 * `recgw verify <dir> --ca <ca.pem> [--agency-key <key.pem> ...] [--crl F ...] [--witness VKEY ...] [--checkpoint F] [--json]
 * [--tolerance-ms N] [--jobs N] [--progress] [--zone Z]`. Times in the text are in the zone (Beijing time by default). Progress (each device checked, and where a long one is every ~2 s) goes
 * to standard error; with --json only when --progress asks for it, so a program reading the JSON gets a quiet
 * standard error unless it wants one.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isS3Location, openStore } from '../store/open-store.js';
import { copyOut } from '../store/copy-out.js';
import { findStoreDevices } from '../store/devices.js';
import { withVerifiableCopy } from '../store/local-copy.js';
import type { SegmentSource } from '../verify/file-checks.js';
import { CRL_FILE } from '../pki/revoke.js';
import { SIG_COSIGNATURE_V1, parseVkey } from '../tlog/note.js';
import type { WitnessKey } from '../tlog/checkpoint.js';
import { Revocations } from '../pki/crl.js';
import { loadPrivateKey } from '../pki/keys.js';
import { verifyStore } from '../verify/verifier.js';
import { formatReport } from '../verify/human.js';
import { RecgwError } from '../util/errors.js';
import { parse, readCaBundle, required, readText, zoneOption } from './args.js';
import { S3_KEYS_NOTE, S3_OPTIONS, S3_USAGE, s3Access } from './s3-access.js';
import type { Io } from './io.js';

const USAGE =
  `recgw verify <dir | ${S3_USAGE}> --ca <ca.pem> [--agency-key <key.pem> ...] [--crl crl.pem ...] [--witness VKEY ...] [--checkpoint FILE] [--json] [--tolerance-ms N] [--jobs N] [--progress] [--zone Asia/Shanghai]\n  ${S3_KEYS_NOTE}`;

const parseArgs = (argv: string[]) =>
  parse(
    argv,
    {
      ca: { type: 'string' },
      'agency-key': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'tolerance-ms': { type: 'string' },
      witness: { type: 'string', multiple: true },
      checkpoint: { type: 'string' },
      crl: { type: 'string', multiple: true },
      jobs: { type: 'string' },
      progress: { type: 'boolean' },
      zone: { type: 'string' },
      ...S3_OPTIONS,
    },
    USAGE,
    true,
  );

export async function verifyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs(argv);
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one folder to verify\nusage: ${USAGE}`);
  if (isS3Location(positionals[0]!)) return verifyBucket(positionals[0]!, values, io);
  return verifyFolder(positionals[0]!, values, io);
}

type VerifyValues = ReturnType<typeof parseArgs>['values'];

/**
 * A bucket: its devices' folders without their segments, and its log and CRL, copied into a private temporary folder
 * and checked there, the segments hashed as they stream from the bucket (store/local-copy.ts); nothing decrypted is
 * written. With --agency-key the segments are decrypted, which the verifier does on local files: then the whole store
 * is copied (as much local disk as the store).
 */
async function verifyBucket(location: string, values: VerifyValues, io: Io): Promise<number> {
  const store = openStore(location, s3Access(values, USAGE));
  try {
    const { devices } = await findStoreDevices(store);
    const say = (m: string): void => void (!values.json || values.progress ? io.err(`${m}\n`) : undefined);
    if ((values['agency-key'] ?? []).length === 0 && devices.length > 0 && !devices.includes('')) {
      return await withVerifiableCopy(store, devices, tmpdir(), async (root, segmentsOf) => {
        const crl = await store.read(CRL_FILE);
        if (crl) writeFileSync(join(root, CRL_FILE), crl);
        say(`read ${devices.length} device folder(s) of ${location} without their segments into ${root}; the segments are hashed in the bucket`);
        return verifyFolder(root, values, io, segmentsOf);
      });
    }
    const copy = mkdtempSync(join(tmpdir(), 'recgw-verify-s3-'));
    try {
      const n = await copyOut(store, copy);
      if (n === 0) throw new RecgwError('usage', `${location} holds no objects: is the bucket or prefix right?`);
      say(`read ${n} objects of ${location} into ${copy}${devices.length > 0 ? ' (segments too: --agency-key decrypts them)' : ''}`);
      return await verifyFolder(copy, values, io);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  } finally {
    await store.close();
  }
}

async function verifyFolder(dir: string, values: VerifyValues, io: Io, segmentsOf?: (deviceDir: string) => SegmentSource): Promise<number> {
  const caPems = readCaBundle(required(values.ca, '--ca', USAGE));
  const zone = zoneOption(values.zone);
  // More than one during a migration between suites: each manifest is decrypted with the key it names.
  const agencyKeys = (values['agency-key'] ?? []).map((f) => loadPrivateKey(f, 'agency private key', 'pass the agency-key.pem written by `recgw ca init`'));
  const tol = values['tolerance-ms'] === undefined ? undefined : Number(values['tolerance-ms']);
  if (tol !== undefined && (!Number.isFinite(tol) || tol < 0)) throw new RecgwError('usage', '--tolerance-ms must be a non-negative number');
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1 && jobs <= 256)) {
    throw new RecgwError('usage', `--jobs must be a whole number of worker threads from 1 to 256 (got ${values.jobs})`);
  }
  const witnesses = (values.witness ?? []).map(witnessKey);
  const trustedCheckpoint = values.checkpoint === undefined ? undefined : readText(values.checkpoint, 'checkpoint');
  const revocations = await Revocations.fromFiles(values.crl ?? [], caPems).catch((err: unknown) => {
    throw new RecgwError('usage', (err as Error).message, { cause: err });
  });
  // A receiver store keeps a copy of the CRL its receiver enforced (beside its log): use it too, when it verifies.
  const storeRoot = [dir, dirname(dir)].find((d) => existsSync(join(d, 'log')) && existsSync(join(d, 'crl.pem')));
  if (storeRoot && (values.crl ?? []).length === 0) {
    try {
      revocations.add(await Revocations.fromFiles([join(storeRoot, 'crl.pem')], caPems));
      if (!values.json) io.err(`using the store's CRL ${join(storeRoot, 'crl.pem')} (give the agency's newest with --crl)\n`);
    } catch (err) {
      io.err(`ignoring the store's CRL: ${(err as Error).message}\n`);
    }
  }
  const report = await verifyStore(dir, {
    caPems,
    revocations,
    ...(witnesses.length > 0 ? { witnesses } : {}),
    ...(trustedCheckpoint ? { trustedCheckpoint } : {}),
    ...(agencyKeys.length > 0 ? { agencyKeys } : {}),
    ...(tol !== undefined ? { gaps: { toleranceMs: tol, edgeToleranceMs: Math.max(tol, 3000) } } : {}),
    ...(jobs !== undefined ? { jobs } : {}),
    ...(segmentsOf ? { segmentsOf } : {}),
    ...(values.json && !values.progress ? {} : { progress: (m: string) => io.err(`${m}\n`) }),
  });
  io.out(values.json ? JSON.stringify(report) + '\n' : formatReport(report, zone) + '\n');
  return report.ok ? 0 : 1;
}

/** A witness's verifier key (c2sp vkey, type 0x04), given as the text itself or a file holding it. */
function witnessKey(arg: string): WitnessKey {
  const text = existsSync(arg) ? readFileSync(arg, 'utf8').trim() : arg;
  const v = parseVkey(text);
  if ('why' in v) throw new RecgwError('usage', `--witness ${JSON.stringify(arg)} is not a witness verifier key (name+id+key): ${v.why}`);
  if (v.type !== SIG_COSIGNATURE_V1) throw new RecgwError('usage', `--witness ${JSON.stringify(arg)} is a note key, not a witness cosignature key (type 0x04): give the witness.vkey that \`recgw witness init\` wrote`);
  return { name: v.name, key: v.key };
}
