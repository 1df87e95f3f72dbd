// The evidence disc: `recgw package build` (a child process, wall time: start-up, selection, the agency log's
// proofs, the verification report, decryption, hashing, two xorriso runs) over one session of a store made by
// `recgw demo` (a real gateway, broker and receiver; RECGW_BENCH_PACKAGE_SECONDS of recording, default 60).
//   package-build   MB/s of decrypted media put on the disc; baseline the same bytes (the session's sealed files,
//                   copied into a folder) written as two images by the same xorriso options: the floor the image
//                   writing alone sets. Best of RECGW_BENCH_REPS (default 7, at most 5 here) runs each, alternating.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { writeIso } from '../dist/package/iso.js';
import { MB, median, progress, report, run, tempDir, timeIt } from './lib.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'recgw.js');
const REPS = Math.min(5, Number(process.env.RECGW_BENCH_REPS ?? 7));
const SECONDS = Number(process.env.RECGW_BENCH_PACKAGE_SECONDS ?? 60);

export default async function packageBuildBench() {
  const tmp = tempDir();
  try {
    const demo = join(tmp.dir, 'demo');
    progress(`package-build: recording a ${SECONDS} s demo session into ${demo}`);
    const d = spawnSync(process.execPath, [BIN, 'demo', '--seconds', String(SECONDS), '--out', demo], { encoding: 'utf8' });
    if (d.status !== 0) throw new Error(`recgw demo failed: ${d.stderr}`);
    const session = /Session (\S+):/.exec(d.stdout)?.[1];
    if (!session) throw new Error('recgw demo printed no session');
    const store = join(demo, 'receiver');
    const device = readdirSync(store).find((n) => n !== 'log' && statSync(join(store, n)).isDirectory() && readdirSync(join(store, n)).includes('ledger.jsonl'));
    const manifests = readFileSync(join(store, device, 'ledger.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"segment.sealed"') && l.includes(`"sessionId":"${session}"`))
      .map((l) => JSON.parse(l).body);
    const plainBytes = manifests.reduce((a, m) => a + m.plain.size, 0);
    const sealed = join(tmp.dir, 'sealed');
    mkdirSync(sealed);
    for (const m of manifests) copyFileSync(join(store, device, m.file), join(sealed, m.file.split('/').pop()));
    progress(`package-build: ${manifests.length} segments, ${(plainBytes / MB).toFixed(1)} MB of media`);
    const args = (out) => ['package', 'build', '--store', store, '--session', session, '--extractor', 'bench', '--reason', 'bench',
      '--agency-key', join(demo, 'ca', 'agency-key.pem'), '--ca', join(demo, 'ca', 'ca.pem'), '--out', out, '--at', '2026-12-07T00:00:00Z'];
    const contenders = {
      build: (i) => run(process.execPath, [BIN, ...args(join(tmp.dir, `out-${i}`))]),
      xorriso: async (i) => {
        for (const x of ['A', 'B']) await writeIso({ dir: sealed, out: join(tmp.dir, `floor-${i}-${x}.iso`), volume: 'floor', at: Date.parse('2026-12-07T00:00:00Z') });
      },
    };
    const times = { build: [], xorriso: [] };
    await contenders.build('warm');
    for (let r = 0; r < REPS; r++) for (const [k, fn] of Object.entries(contenders)) times[k].push(await timeIt(() => fn(r)));
    progress(`package-build: median ${median(times.build).toFixed(2)} s, xorriso alone ${median(times.xorriso).toFixed(2)} s`);
    report('package-build', plainBytes / MB / Math.min(...times.build), 'MB/s', plainBytes / MB / Math.min(...times.xorriso));
  } finally {
    tmp.remove();
  }
}
