/**
 * `recgw demo`: a complete simulated installation on this machine (src/demo/scenario.ts), with progress as it
 * goes and the verifier's report on the receiver's store at the end, times in the zone (Beijing time by default).
 * Exit 0 when the verifier passes.
 */
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { runDemo } from '../demo/scenario.js';
import { formatReport } from '../verify/human.js';
import { createLogger } from '../util/log.js';
import { parse, positiveInt, zoneOption } from './args.js';
import type { Io } from './io.js';
import { isSuiteName } from '../crypto/suite.js';
import { RecgwError } from '../util/errors.js';
import { untilSignal } from './run.js';
import { DEFAULT_ZONE } from '../util/local-time.js';

const USAGE = 'recgw demo [--seconds N] [--out DIR] [--broker URL] [--zone Asia/Shanghai] [--suite intl|gm] [--stay]';

export async function demoCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { seconds: { type: 'string' }, out: { type: 'string' }, broker: { type: 'string' }, zone: { type: 'string' }, suite: { type: 'string' }, stay: { type: 'boolean' } }, USAGE);
  const suite = values.suite ?? 'intl';
  if (!isSuiteName(suite)) throw new RecgwError('usage', `--suite must be intl or gm, not ${JSON.stringify(suite)}\nusage: ${USAGE}`);
  const seconds = positiveInt(values.seconds, '--seconds', 20);
  const zone = zoneOption(values.zone);
  const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'recgw-demo-')));
  // The service's own log stays quiet unless something goes wrong; the demo speaks for itself.
  const log = createLogger('recgw', { level: process.env.RECGW_LOG_LEVEL === 'debug' ? 'debug' : 'warn' });
  io.out(`recgw demo: a simulated installation in ${out}, suite ${suite}, one session of at least ${seconds} s\n`);
  const r = await runDemo({ out, seconds, zone, suite, ...(values.broker ? { broker: values.broker } : {}), log, say: (t) => io.out(t + '\n') });
  io.out('\n' + formatReport(r.report, zone) + '\n');
  try {
    const inZone = zone === DEFAULT_ZONE ? '' : ` --zone ${zone}`;
    io.out(
      `\nEverything is kept in ${out}. Check it again, and summarise it, with:\n` +
        `  recgw verify ${r.storeDir} --ca ${join(r.caDir, 'ca.pem')} --agency-key ${join(r.caDir, 'agency-key.pem')}${inZone}\n` +
        `  recgw report ${r.storeDir} --ca ${join(r.caDir, 'ca.pem')}${inZone}\n` +
        `The evidence desk over the index ${r.desk.database}:\n` +
        `  ${r.desk.url}  sign in as ${r.desk.name}, password ${r.desk.password}\n` +
        (values.stay ? '' : `(it stops now: give --stay to keep it open; or run recgw desk --config ${join(out, 'desk', 'desk.json')})\n`),
    );
    if (values.stay) {
      io.out('The desk stays open until Ctrl-C.\n');
      await untilSignal(log);
    }
  } finally {
    await r.desk.stop();
  }
  return r.report.ok ? 0 : 1;
}
