/**
 * `recgw verify <dir> --ca <ca.pem> [--agency-key <key.pem>] [--json] [--tolerance-ms N] [--jobs N] [--progress]`
 * Progress (each device checked, and where a long one is every ~2 s) goes to standard error; with --json only
 * when --progress asks for it, so a program reading the JSON gets a quiet standard error unless it wants one.
 */
import { readFileSync } from 'node:fs';
import { splitPemBundle } from '../pki/certs.js';
import { loadPrivateKey } from '../pki/keys.js';
import { verifyStore } from '../verify/verifier.js';
import { formatReport } from '../verify/human.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw verify <dir> --ca <ca.pem> [--agency-key <key.pem>] [--json] [--tolerance-ms N] [--jobs N] [--progress]';

export async function verifyCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ca: { type: 'string' },
      'agency-key': { type: 'string' },
      json: { type: 'boolean' },
      'tolerance-ms': { type: 'string' },
      jobs: { type: 'string' },
      progress: { type: 'boolean' },
    },
    USAGE,
    true,
  );
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one folder to verify\nusage: ${USAGE}`);
  const caPath = required(values.ca, '--ca', USAGE);
  let caPems: string[];
  try {
    caPems = splitPemBundle(readFileSync(caPath, 'utf8'));
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('usage', `CA certificate file ${caPath} does not exist`);
    throw err;
  }
  if (caPems.length === 0) throw new RecgwError('usage', `${caPath} holds no PEM certificate`);
  const agencyKey = values['agency-key']
    ? loadPrivateKey(values['agency-key'], 'agency private key', 'pass the agency-key.pem written by `recgw ca init`')
    : undefined;
  const tol = values['tolerance-ms'] === undefined ? undefined : Number(values['tolerance-ms']);
  if (tol !== undefined && (!Number.isFinite(tol) || tol < 0)) throw new RecgwError('usage', '--tolerance-ms must be a non-negative number');
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1 && jobs <= 256)) {
    throw new RecgwError('usage', `--jobs must be a whole number of worker threads from 1 to 256 (got ${values.jobs})`);
  }
  const report = await verifyStore(positionals[0]!, {
    caPems,
    ...(agencyKey ? { agencyKey } : {}),
    ...(tol !== undefined ? { gaps: { toleranceMs: tol, edgeToleranceMs: Math.max(tol, 3000) } } : {}),
    ...(jobs !== undefined ? { jobs } : {}),
    ...(values.json && !values.progress ? {} : { progress: (m: string) => io.err(`${m}\n`) }),
  });
  io.out(values.json ? JSON.stringify(report) + '\n' : formatReport(report) + '\n');
  return report.ok ? 0 : 1;
}
