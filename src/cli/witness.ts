/**
 * `recgw witness ...`: a witness of agency logs, run by a supervisor outside the agency (evidence-format.md §15.4).
 *   init   create the witness key and state folder, following the given logs
 *   trust  follow one more log
 *   serve  answer add-checkpoint requests (c2sp.org/tlog-witness) until SIGTERM
 *   show   the witness's verifier key and the last checkpoint it cosigned per log
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Witness, WITNESS_FILES, initWitness, trustLog } from '../witness/witness.js';
import { WitnessServer } from '../witness/server.js';
import { createLogger } from '../util/log.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import { untilSignal } from './run.js';
import type { Io } from './io.js';

const USAGE = `recgw witness init --out DIR --name NAME [--log LOG.vkey ...]
       recgw witness trust --state DIR --log LOG.vkey
       recgw witness serve --state DIR [--listen HOST:PORT] [--tls-cert F --tls-key F]
       recgw witness show --state DIR`;

/** A verifier key given as text or as a file holding it. */
const vkeyArg = (v: string): string => (existsSync(v) ? readFileSync(v, 'utf8').trim() : v);

export async function witnessCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'init': {
      const { values } = parse(rest, { out: { type: 'string' }, name: { type: 'string' }, log: { type: 'string', multiple: true } }, USAGE);
      const out = required(values.out, '--out', USAGE);
      const { vkey } = initWitness(out, required(values.name, '--name', USAGE), (values.log ?? []).map(vkeyArg));
      io.out(`Witness created in ${out}. Its verifier key (give it to the agency and to anyone who verifies):\n${vkey}\n`);
      return 0;
    }
    case 'trust': {
      const { values } = parse(rest, { state: { type: 'string' }, log: { type: 'string' } }, USAGE);
      const v = trustLog(required(values.state, '--state', USAGE), vkeyArg(required(values.log, '--log', USAGE)));
      io.out(`Now following log ${v.name}.\n`);
      return 0;
    }
    case 'show': {
      const { values } = parse(rest, { state: { type: 'string' } }, USAGE);
      const dir = required(values.state, '--state', USAGE);
      const w = new Witness(dir);
      io.out(`${w.vkey}\n`);
      for (const f of readdirSync(join(dir, WITNESS_FILES.logs))) {
        const name = readFileSync(join(dir, WITNESS_FILES.logs, f), 'utf8').split('+')[0]!;
        const s = w.latest(name);
        io.out(`  ${name}: ${s ? `${s.size} leaves, root ${s.root}` : 'nothing cosigned yet'}\n`);
      }
      return 0;
    }
    case 'serve': {
      const { values } = parse(rest, { state: { type: 'string' }, listen: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } }, USAGE);
      const w = new Witness(required(values.state, '--state', USAGE));
      const [host, port] = splitListen(values.listen ?? '127.0.0.1:7380');
      if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new RecgwError('usage', '--tls-cert and --tls-key go together');
      const tls = values['tls-cert'] ? { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key']!, 'utf8') } : undefined;
      const log = createLogger('recgw-witness');
      const signalled = untilSignal(log);
      const server = new WitnessServer(w, log, tls);
      const url = await server.start(port, host);
      io.err(`recgw: witness ${w.name} answering ${url}/add-checkpoint\n`);
      await signalled;
      await server.stop();
      return 0;
    }
    default:
      throw new RecgwError('usage', `unknown witness command ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  }
}

function splitListen(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new RecgwError('usage', `--listen ${JSON.stringify(s)} is not HOST:PORT`);
  return [s.slice(0, i), port];
}
