/**
 * Issue 7: the systemd units verify. `systemd-analyze verify` loads each unit the way systemd would (a test
 * manager, no running systemd needed) and checks every section and key name, every value's syntax (times, kill
 * mode, sandboxing options, device lists), that ExecStart's program (/usr/bin/env) exists and is executable, and
 * that the units named in After=/Wants=/WantedBy= exist on this (Debian) machine. It only warns about a bad key or
 * value and still exits 0, so any output counts as a failure here. It does not check that the users exist or
 * that the paths are there: the install test does. `systemd-analyze security --offline` then scores the sandbox
 * (0 = locked down, 10 = none) so that the hardening cannot quietly erode.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_NODE_FLAGS, SERVICE_ENV } from '../../src/app/service-env.js';

const UNITS = join(import.meta.dirname, '../../systemd');
const ANALYZE = '/usr/bin/systemd-analyze';

function analyze(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(ANALYZE, args, { encoding: 'utf8', cwd: UNITS, env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_COLORS: '0' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe.each(['recgw.service', 'recgw-receiver.service'])('%s', (unit) => {
  const text = readFileSync(join(UNITS, unit), 'utf8');

  it('systemd-analyze verify: no errors and no warnings', () => {
    const r = analyze(['verify', '--man=no', `./${unit}`]);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('the sandbox scores at most 2.5 in systemd-analyze security --offline', () => {
    const r = analyze(['security', '--offline=yes', '--no-pager', `./${unit}`]);
    expect(r.status).toBe(0);
    const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.5);
  });

  it('is a notify service with a watchdog that always restarts, running as its own user', () => {
    const user = unit === 'recgw.service' ? 'recgw' : 'recgw-receiver';
    for (const line of [
      'Type=notify',
      'NotifyAccess=all',
      'Restart=always',
      `User=${user}`,
      'ProtectSystem=strict',
      `ReadWritePaths=/var/lib/${user}`,
      'NoNewPrivileges=yes',
      'PrivateTmp=yes',
    ]) {
      expect(text.split('\n'), line).toContain(line);
    }
    expect(text).toMatch(/^WatchdogSec=\d+s$/m);
    // The environment the benches measure with is the one the service gets.
    for (const [k, v] of Object.entries(SERVICE_ENV)) expect(text.split('\n')).toContain(`Environment=${k}=${v}`);
    // The gateway runs with the Node flags the recording bench measures with (service-env.ts).
    const flags = unit === 'recgw.service' ? GATEWAY_NODE_FLAGS.map((f) => `${f} `).join('') : '';
    expect(text).toMatch(new RegExp(`^ExecStart=/usr/bin/env node ${flags}/opt/recgw/bin/recgw\\.js ${unit === 'recgw.service' ? 'run' : 'receiver'} --config /etc/${user}/`, 'm'));
    if (unit === 'recgw.service') expect(text).toMatch(/^SupplementaryGroups=video audio dialout gpio$/m);
    else expect(text).toMatch(/^PrivateDevices=yes$/m);
  });
});

describe('recgw-retention.service and its timer', () => {
  const service = readFileSync(join(UNITS, 'recgw-retention.service'), 'utf8');

  it('systemd-analyze verify: no errors and no warnings for the pair', () => {
    const r = analyze(['verify', '--man=no', './recgw-retention.service', './recgw-retention.timer']);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('the sandbox scores at most 2.5, as the receiver\'s', () => {
    const r = analyze(['security', '--offline=yes', '--no-pager', './recgw-retention.service']);
    const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.5);
  });

  it('runs retention apply once a day as the receiver\'s user, only where the desk config is, catching up missed days', async () => {
    for (const line of ['Type=oneshot', 'User=recgw-receiver', 'ReadWritePaths=/var/lib/recgw-receiver', 'ConditionPathExists=/etc/recgw-receiver/desk.json']) expect(service.split('\n'), line).toContain(line);
    const timer = readFileSync(join(UNITS, 'recgw-retention.timer'), 'utf8');
    expect(timer).toMatch(/^OnCalendar=\S/m);
    expect(timer).toMatch(/^Persistent=true$/m);
    expect(timer).toMatch(/^WantedBy=timers\.target$/m);
    // The command line the unit runs is one recgw takes: with config files that are not there it names the first
    // missing file (a config error, exit 2), not an unknown option.
    const argv = /^ExecStart=\/usr\/bin\/env node \/opt\/recgw\/bin\/recgw\.js (.+)$/m.exec(service)![1]!.split(' ');
    expect(argv.slice(0, 2)).toEqual(['retention', 'apply']);
    const { main } = await import('../../src/cli/main.js');
    let said = '';
    const code = await main(argv, { out: (t: string) => void (said += t), err: (t: string) => void (said += t) });
    expect(said).toContain('/etc/recgw-receiver/');
    expect(said).not.toMatch(/unknown option|usage:/i);
    expect(code).not.toBe(0);
  });
});
