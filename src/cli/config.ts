/**
 * `recgw config check --config FILE`: validate without starting anything, the files the config names included.
 * A gateway's config and a receiver's (`config/receiver.json`) are told apart by their keys and each checked as
 * its own service checks it at start.
 */
import { configInvalid, loadConfig, readJsonConfig } from '../config/load.js';
import { agencyFileProblems } from '../config/agency-files.js';
import { parseReceiverConfig } from '../receiver/config.js';
import { loadReceiverKeys } from '../receiver/keys.js';
import { RecgwError } from '../util/errors.js';
import { parse, required } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw config check --config FILE';

export async function configCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check') throw new RecgwError('usage', `usage: ${USAGE}`);
  const { values } = parse(rest, { config: { type: 'string' } }, USAGE);
  const file = required(values.config, '--config', USAGE);
  const raw = readJsonConfig(file);
  if (isReceiverConfig(raw)) {
    const r = parseReceiverConfig(raw, file);
    loadReceiverKeys(r, new Date());
    io.out(`${r.file}: valid (receiver ${r.name}, store ${r.store}, broker ${r.broker})\n`);
    return 0;
  }
  const c = loadConfig(file);
  // What the gateway checks at start: a config it would refuse to run with is not valid.
  const problems = agencyFileProblems(c.agency, new Date());
  if (problems.length > 0) throw configInvalid(c.file, problems);
  io.out(`${c.file}: valid (${c.installation}, device ${c.deviceId}, ${c.recording.sources.length} sources)\n`);
  return 0;
}

/** A receiver's config has a store and no device: a gateway's always names its deviceId and never a store. */
function isReceiverConfig(obj: unknown): boolean {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return false;
  return !('deviceId' in obj) && 'store' in obj;
}
