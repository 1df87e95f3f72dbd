/**
 * A real witness for a test: `recgw witness init` into a folder of the test's own (following the given logs), then
 * `recgw witness serve` on a free port, ready once it says it is answering; stop() ends it (SIGTERM).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseVkey, type Vkey } from '../../src/tlog/note.js';
import { freePort, tmp } from './fixtures.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');

export interface TestWitness {
  /** Its state folder (for `recgw witness show` and its evidence). */
  dir: string;
  url: string;
  vkey: Vkey;
  /** The verifier key as `recgw witness init` printed it, for a config. */
  vkeyText: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Create a witness named `name` following `logs` (verifier key files), and serve it. Needs dist (ensureBuilt). */
export function initWitness(name: string, logs: string[] = []): { dir: string; vkeyText: string } {
  const dir = join(tmp('recgw-witness-'), 'w');
  const out = execFileSync(process.execPath, [BIN, 'witness', 'init', '--out', dir, '--name', name, ...logs.flatMap((l) => ['--log', l])], { encoding: 'utf8' });
  return { dir, vkeyText: out.trim().split('\n').at(-1)! };
}

/** Serve the witness in `dir` (made by initWitness) on a free port. */
export async function serveWitness(w: { dir: string; vkeyText: string }, port?: number): Promise<TestWitness> {
  const p = port ?? (await freePort());
  const proc = spawn(process.execPath, [BIN, 'witness', 'serve', '--state', w.dir, '--listen', `127.0.0.1:${p}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => /answering/.test(d.toString()) && resolve());
    proc.once('exit', (c) => reject(new Error(`witness exited ${c}`)));
  });
  const vkey = parseVkey(w.vkeyText);
  if ('why' in vkey) throw new Error(`recgw witness init printed no verifier key: ${vkey.why}`);
  return {
    dir: w.dir,
    url: `http://127.0.0.1:${p}`,
    vkey,
    vkeyText: w.vkeyText,
    proc,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}
