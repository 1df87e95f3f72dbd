// Runs every bench/*.bench.js in name order (or only those whose name contains an argument):
//   node bench/run.js [filter...]
// Each bench file imports the built code from ../dist and exports `default async function ()` that prints its
// results with report() from ./lib.js. Run through `npm run bench`, which builds first.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import process from 'node:process';
import { progress } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  progress(`no bench/*.bench.js matches ${filters.join(' ') || '(any)'}`);
  process.exitCode = 2;
}
for (const f of files) {
  progress(`running ${f}`);
  const mod = await import(pathToFileURL(`${here}/${f}`).href);
  await mod.default();
}
