/** `recgw config check --config FILE`: validate without starting anything, the agency files included. */
import { configInvalid, loadConfig } from '../config/load.js';
import { agencyFileProblems } from '../config/agency-files.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw config check --config FILE';

export async function configCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check') throw new RecgwError('usage', `usage: ${USAGE}`);
  const { values } = parse(rest, { config: { type: 'string' } }, USAGE);
  const c = loadConfig(required(values.config, '--config', USAGE));
  // What the gateway checks at start: a config it would refuse to run with is not valid.
  const problems = agencyFileProblems(c.agency, new Date());
  if (problems.length > 0) throw configInvalid(c.file, problems);
  io.out(`${c.file}: valid (${c.installation}, device ${c.deviceId}, ${c.recording.sources.length} sources)\n`);
  return 0;
}
