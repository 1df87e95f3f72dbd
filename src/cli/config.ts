/** `recgw config check --config FILE`: validate without starting anything. */
import { loadConfig } from '../config/load.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw config check --config FILE';

export async function configCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check') throw new RecgwError('usage', `usage: ${USAGE}`);
  const { values } = parse(rest, { config: { type: 'string' } }, USAGE);
  const c = loadConfig(required(values.config, '--config', USAGE));
  io.out(`${c.file}: valid (${c.installation}, device ${c.deviceId}, ${c.recording.sources.length} sources)\n`);
  return 0;
}
