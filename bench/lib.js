// Shared helpers for the benchmarks: results as JSON lines on stdout, progress on stderr, timing, temp dirs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import process from 'node:process';

/** One result line: {"bench", "value", "unit", "baseline", "ratio"}; ratio = value / baseline (higher is better). */
export function report(bench, value, unit, baseline) {
  const round = (x) => Math.round(x * 1000) / 1000;
  const line = { bench, value: round(value), unit, baseline: round(baseline), ratio: round(value / baseline) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}

/** Progress for the human watching; stdout stays machine-readable. */
export function progress(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall time of an async function in seconds. */
export async function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Run a command to completion; reject on a non-zero exit with its stderr. */
export function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code, sig) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code ?? sig}: ${err.trim()}`)),
    );
  });
}

/** A temp dir under os.tmpdir() and a function that removes it. */
export function tempDir(prefix = 'recgw-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const MB = 1e6;
