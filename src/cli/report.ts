/** `recgw report <store> [--json] [--ca ca.pem]`: the evidence officer's summary of a receiver's store. */
import { readFileSync, statSync } from 'node:fs';
import { splitPemBundle } from '../pki/certs.js';
import { buildReport } from '../report/report.js';
import { formatStoreReport } from '../report/human.js';
import { RecgwError, isENOENT } from '../util/errors.js';
import { parse } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw report <store> [--json] [--ca <ca.pem>]';

export async function reportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ca: { type: 'string' }, json: { type: 'boolean' } }, USAGE, true);
  if (positionals.length !== 1) throw new RecgwError('usage', `give exactly one store folder\nusage: ${USAGE}`);
  const store = positionals[0]!;
  let isDir = false;
  try {
    isDir = statSync(store).isDirectory();
  } catch (err) {
    if (!isENOENT(err)) throw new RecgwError('io', `cannot read ${store}: ${(err as Error).message}`, { cause: err });
  }
  if (!isDir) throw new RecgwError('usage', `${store} is not a folder: give the receiver's store folder\nusage: ${USAGE}`);
  const caPems = values.ca === undefined ? undefined : readCa(values.ca);
  const report = await buildReport(store, caPems ? { caPems } : {});
  io.out(values.json ? JSON.stringify(report) + '\n' : formatStoreReport(report) + '\n');
  return 0;
}

function readCa(path: string): string[] {
  let pems: string[];
  try {
    pems = splitPemBundle(readFileSync(path, 'utf8'));
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('usage', `CA certificate file ${path} does not exist`);
    throw new RecgwError('usage', `cannot read CA certificate file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (pems.length === 0) throw new RecgwError('usage', `${path} holds no PEM certificate`);
  return pems;
}
