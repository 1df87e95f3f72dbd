/** Argument parsing for subcommands: node:util parseArgs, with its errors turned into usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync, statSync } from 'node:fs';
import { RecgwError, isENOENT } from '../util/errors.js';
import { splitPemBundle } from '../pki/certs.js';
import { DEFAULT_ZONE, isKnownZone } from '../util/local-time.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new RecgwError('usage', `${(err as Error).message}\nusage: ${usage}`);
  }
}

export function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value === '') throw new RecgwError('usage', `${flag} is required\nusage: ${usage}`);
  return value;
}

export function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new RecgwError('usage', `${flag} must be a positive whole number, not ${JSON.stringify(value)}`);
  return n;
}

/** A text file named on the command line; a missing one is a usage error naming it. */
export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isENOENT(err)) throw new RecgwError('usage', `${what} file ${path} does not exist`);
    throw err;
  }
}

/** A CA bundle named on the command line (--ca): every PEM certificate in it. */
export function readCaBundle(path: string): string[] {
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

/** --zone: the time zone people read times in (an IANA name), Beijing time unless given. */
export function zoneOption(value: string | undefined): string {
  if (value === undefined) return DEFAULT_ZONE;
  if (!isKnownZone(value)) throw new RecgwError('usage', `--zone ${JSON.stringify(value)} is not a time zone: give an IANA name such as Asia/Shanghai`);
  return value;
}

/** A store folder named on the command line: it must exist and be a folder. */
export function storeFolder(path: string, usage: string): string {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    if (!isENOENT(err)) throw new RecgwError('io', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!isDir) throw new RecgwError('usage', `${path} is not a folder: give the receiver's store folder\nusage: ${usage}`);
  return path;
}
