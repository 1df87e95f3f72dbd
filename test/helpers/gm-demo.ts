/** `recgw demo --suite gm` run once per test file, as a user runs it (the built CLI): its folder and what it printed. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmp } from './fixtures.js';

export const RECGW_BIN = join(import.meta.dirname, '../../bin/recgw.js');

export interface DemoRun {
  /** The demo's folder (ca/, receiver/, gateway/, receiver-config/, ...). */
  out: string;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the gm demo for a session of `seconds` into a new temp folder named with `prefix`. */
export function runGmDemo(prefix: string, seconds: number): DemoRun {
  const out = join(tmp(prefix), 'demo');
  const r = spawnSync(process.execPath, [RECGW_BIN, 'demo', '--suite', 'gm', '--seconds', String(seconds), '--out', out], { encoding: 'utf8', timeout: 150_000 });
  return { out, status: r.status, stdout: r.stdout, stderr: r.stderr };
}
