// Runs every bench/*.bench.js in name order (or only those an argument names):
//   node bench/run.js [filter...]
// A filter that is a bench's exact name (file name without .bench.js) selects that bench alone, so `seal` runs
// seal.bench.js and not uplink-seal-to-receipt.bench.js; any other filter selects every file whose name contains it.
// Files here that are not *.bench.js (lib.js, lib-mqtt.js, mqtt-peer.js, receiver-launch.js) are helpers, never run
// as benches.
// Each bench file imports the built code from ../dist and exports `default async function ()` that prints its
// results with report() from ./lib.js. Run through `npm run bench`, which builds first.
// The benches measure the service as installed: with the environment its systemd units set (SERVICE_ENV, which
// glibc reads at process start), so this process starts itself again with it when it lacks it; the recgw
// processes the benches start inherit it.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import process from 'node:process';
import { progress } from './lib.js';
import { SERVICE_ENV } from '../dist/app/service-env.js';

const here = dirname(fileURLToPath(import.meta.url));
const missing = Object.entries(SERVICE_ENV).filter(([k, v]) => process.env[k] !== v);
if (missing.length > 0) {
  progress(`with the service's environment: ${Object.entries(SERVICE_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const r = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, ...SERVICE_ENV } });
  process.exit(r.status ?? 1);
}
const filters = process.argv.slice(2);
const all = readdirSync(here).filter((f) => f.endsWith('.bench.js'));
const selects = (x, f) => (all.includes(`${x}.bench.js`) ? f === `${x}.bench.js` : f.includes(x));
const files = all.filter((f) => filters.length === 0 || filters.some((x) => selects(x, f))).sort();

if (files.length === 0) {
  progress(`no bench/*.bench.js matches ${filters.join(' ') || '(any)'}`);
  process.exitCode = 2;
}
for (const f of files) {
  progress(`running ${f}`);
  const mod = await import(pathToFileURL(`${here}/${f}`).href);
  await mod.default();
}
