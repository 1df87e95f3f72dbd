/** Argument parsing for subcommands: node:util parseArgs, with its errors turned into usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { RecgwError, isENOENT } from '../util/errors.js';

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
