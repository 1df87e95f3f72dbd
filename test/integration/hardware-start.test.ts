/**
 * Configured hardware that is missing fails the start with a message naming it, and the process exits instead of
 * hanging on what had already started. This machine has no GPIO at all (no /sys/class/gpio), which is exactly the
 * case of a gateway whose GPIO is missing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');

describe('missing hardware at start', () => {
  const ca = makeCa();
  afterAll(cleanupTmp);

  it.skipIf(existsSync('/sys/class/gpio'))('a configured GPIO that does not exist stops `recgw run` at once, saying what and how to fix it', () => {
    const gw = makeGateway(ca.dir, { config: { time: { source: 'host', assumeSynchronised: true }, gpio: { backend: 'sysfs', lamp: 17 } } });
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', gw.configPath], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, 'recgw run hung after the failed start').toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\/sys\/class\/gpio/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 40_000);
});
