/**
 * The `recgw` program as a user runs it (`node bin/recgw.js`, the compiled code): exit status 0 = fine,
 * 1 = the thing checked is not valid, 2 = usage or configuration error with a message naming the problem;
 * the JSON report of `verify --json` in its contract shape; and enrolment from `ca init` to `enrol show`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { buildStore, copyStore, ensureBuilt, flipByte, makeSamples, type BuiltStore, type Samples } from '../helpers/store-fixture.js';
import { defaultSimConfig } from '../../src/demo/provision.js';
import { caPaths } from '../../src/pki/ca.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/log.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function recgw(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin', 'recgw.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RECGW_LOG_LEVEL: 'error' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let caDir: string;
let samples: Samples;
let store: BuiltStore;

beforeAll(async () => {
  ensureBuilt();
  caDir = makeCa().dir;
  samples = await makeSamples();
  store = await buildStore({ caDir, samples });
}, 120_000);
afterAll(cleanupTmp);

const caCert = (): string => caPaths(caDir).caCert;

describe('recgw verify', () => {
  it('exits 0 on a good store, and --json follows the contract', async () => {
    const r = await recgw('verify', store.storeDir, '--ca', caCert(), '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as unknown;
    expect(report).toEqual({
      ok: true,
      findings: [],
      devices: [
        expect.objectContaining({
          deviceId: store.deviceId,
          entries: expect.any(Number),
          segments: samples.cam1.length + samples.mic1.length,
          sessions: [
            expect.objectContaining({
              sessionId: store.session.sessionId,
              matter: 'site-inspection',
              caseRef: 'CASE-2026-001',
              start: new Date(store.t0).toISOString(),
              end: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
              recordedSeconds: expect.any(Number),
              gaps: [],
            }),
          ],
        }),
      ],
    });
  });

  it('exits 0 with a human report, and takes the agency key', async () => {
    const r = await recgw('verify', store.storeDir, '--ca', caCert(), '--agency-key', caPaths(caDir).agencyKey);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/every check passed/);
    expect(r.stdout).toMatch(/Result: VALID/);
    // People read Beijing time (UTC+8 all year; worked out here without Intl); the JSON above stays UTC.
    const bj = new Date(store.t0 + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    expect(r.stdout).toContain('Times are 北京时间 UTC+08:00.');
    expect(r.stdout).toContain(`Session ${store.session.sessionId}: `);
    expect(r.stdout).toContain(`, ${bj} to `);
    const utc = await recgw('verify', store.storeDir, '--ca', caCert(), '--zone', 'UTC');
    expect(utc.stdout).toContain(`, ${new Date(store.t0).toISOString().slice(0, 19).replace('T', ' ')} to `);
    expect((await recgw('verify', store.storeDir, '--ca', caCert(), '--zone', 'Beijing')).code).toBe(2);
  });

  it('exits 1 on a tampered store, naming the problem', async () => {
    const c = copyStore(store);
    flipByte(join(c.deviceDir, 'segments', `${store.session.sessionId}_cam1_000000.seg`), 500);
    const r = await recgw('verify', c.storeDir, '--ca', caCert(), '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; findings: unknown[] };
    expect(report.ok).toBe(false);
    expect(report.findings).toEqual([{ kind: 'altered-segment', deviceId: store.deviceId, detail: expect.stringContaining('cam1_000000.seg') }]);
    const human = await recgw('verify', c.storeDir, '--ca', caCert());
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/altered segment \(room-1\): .*cam1_000000\.seg/);
    expect(human.stdout).toMatch(/Result: NOT VALID \(1 problem\)/);
  });

  it('reports gaps in the contract shape', async () => {
    const gap = await buildStore({ caDir, samples, deviceId: 'room-7', camShift: { fromIndex: 2, ms: 2000 } });
    const r = await recgw('verify', gap.storeDir, '--ca', caCert(), '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { devices: { sessions: { gaps: unknown[] }[] }[]; findings: unknown[] };
    expect(report.devices[0]!.sessions[0]!.gaps).toEqual([
      expect.objectContaining({ start: new Date(gap.camSpans[1]![1]).toISOString(), end: new Date(gap.camSpans[2]![0]).toISOString(), explained: false, reason: null }),
    ]);
    expect(report.findings).toEqual([{ kind: 'unexplained-gap', deviceId: 'room-7', detail: expect.stringContaining('cam1 has no footage') }]);
  });

  it('exits 2 when --ca is missing, the folder is missing, or the CA file does not exist', async () => {
    const noCa = await recgw('verify', store.storeDir);
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toMatch(/recgw verify: --ca is required\nusage: recgw verify/);
    const noDir = await recgw('verify', '--ca', caCert());
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/give exactly one folder to verify/);
    const badCa = await recgw('verify', store.storeDir, '--ca', join(store.storeDir, 'nope.pem'));
    expect(badCa.code).toBe(2);
    expect(badCa.stderr).toMatch(/CA certificate file .*nope\.pem does not exist/);
    const badFlag = await recgw('verify', store.storeDir, '--ca', caCert(), '--jsno');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/Unknown option '--jsno'/);
  });

  it('exits 1 on a folder with no ledger in it', async () => {
    const r = await recgw('verify', tmp('recgw-empty-'), '--ca', caCert(), '--json');
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { findings: { kind: string }[] }).findings[0]!.kind).toBe('malformed');
  });
});

describe('usage and configuration errors exit 2', () => {
  it('an unknown command', async () => {
    const r = await recgw('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^recgw: unknown command "frobnicate"/);
    expect(r.stderr).toMatch(/usage: recgw <command>/);
  });

  it('no command at all prints the usage', async () => {
    const r = await recgw();
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/usage: recgw <command>/);
  });

  it('an unknown subcommand', async () => {
    const r = await recgw('ca', 'destroy');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown ca subcommand "destroy"/);
  });

  it('a missing config file', async () => {
    const missing = join(tmp('recgw-cli-'), 'recgw.json');
    const r = await recgw('export', '--config', missing, '--out', tmp('recgw-cli-'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`config file ${missing} does not exist`);
  });

  it('an invalid config file names the key', async () => {
    const file = join(tmp('recgw-cli-'), 'recgw.json');
    const c = defaultSimConfig('room-1', caPaths(caDir)) as { recording: { sources: { driver: string }[] } };
    c.recording.sources[1]!.driver = 'usb';
    writeFileSync(file, JSON.stringify(c));
    const r = await recgw('config', 'check', '--config', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`config file ${file} is invalid`);
    expect(r.stderr).toMatch(/recording\.sources\[1\]\.driver: must be one of/);
  });

  it('a missing --config flag', async () => {
    const r = await recgw('enrol', 'show');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config is required/);
  });

  it('config check passes every example config, given the agency files they name', async () => {
    // The examples name /etc/recgw/...: the same config with this test's agency files in their place.
    const examples = readdirSync(join(ROOT, 'config')).filter((f) => f.endsWith('.json') && f !== 'receiver.json');
    expect(examples.sort()).toEqual(['hearing-room.json', 'interview-room.json', 'vehicle.json']);
    for (const name of examples) {
      const text = readFileSync(join(ROOT, 'config', name), 'utf8');
      expect(text, name).toContain('"/etc/recgw/ca.pem"');
      const f = join(tmp('recgw-cli-'), name);
      writeFileSync(f, text.replace('/etc/recgw/ca.pem', caCert()).replace('/etc/recgw/agency-enc.pem', caPaths(caDir).agencyEncCert));
      const r = await recgw('config', 'check', '--config', f);
      expect(r.stderr, name).toBe('');
      expect(r.code, name).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`${name.replace('.', '\\.')}: valid \\(${name.replace('.json', '')}, device `));
    }
    // The vehicle as the product describes it: GPS with a home base and GPS time, GPIO lamp and inputs, a UPS.
    const vehicle = loadConfig(join(ROOT, 'config', 'vehicle.json'));
    expect(vehicle.gps?.homeBase).toBeDefined();
    expect(vehicle.time.source).toBe('gps');
    expect(vehicle.gpio?.inputs.map((i) => i.name).sort()).toEqual(['door', 'ignition', 'lightbar', 'record-button']);
    expect(vehicle.gpio?.session?.officers.length).toBeGreaterThan(0);
    expect(vehicle.power?.nut?.name).toBe('carups');
    expect(vehicle.recording.preEventSeconds).toBeGreaterThan(0);

    const file = join(tmp('recgw-cli-'), 'interview-room.json');
    const example = readFileSync(join(ROOT, 'config', 'interview-room.json'), 'utf8');
    // Without the agency's files in place, it says which file to put where.
    const missing = join(tmp('recgw-cli-'), 'agency-enc.pem');
    writeFileSync(file, example.replace('/etc/recgw/ca.pem', caCert()).replace('/etc/recgw/agency-enc.pem', missing));
    const bare = await recgw('config', 'check', '--config', file);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(`agency.encryptionCert: ${missing} does not exist: give the agency's encryption certificate (agency-enc.pem)`);
  });
});

describe('enrolment round trip', () => {
  it('ca init, enrol csr, ca sign, enrol install, enrol show, export, verify', async () => {
    const dir = tmp('recgw-enrol-');
    const ca = join(dir, 'ca');
    const init = await recgw('ca', 'init', '--out', ca);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(join(ca, 'ca.pem'));
    expect(init.stdout).toContain(`${join(ca, 'agency-enc.pem')} (agency encryption certificate: give this to gateways and receivers)`);
    expect(statSync(join(ca, 'ca-key.pem')).mode & 0o777).toBe(0o600);

    const config = join(dir, 'recgw.json');
    writeFileSync(config, JSON.stringify(defaultSimConfig('cli-1', caPaths(ca))));

    const before = await recgw('enrol', 'show', '--config', config);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/cli-1: not enrolled \(no certificate at .*device\.pem\)/);

    const csr = await recgw('enrol', 'csr', '--config', config);
    expect(csr.code).toBe(0);
    expect(csr.stdout).toMatch(/Created the device key/);
    const csrPath = join(dir, 'state', 'identity', 'device.csr');
    expect(readFileSync(csrPath, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    expect(statSync(join(dir, 'state', 'identity', 'device-key.pem')).mode & 0o777).toBe(0o600);
    // Asking again keeps the key.
    expect((await recgw('enrol', 'csr', '--config', config)).stdout).toMatch(/Using the existing device key/);

    // A certificate from another CA is refused on install.
    const foreign = join(dir, 'foreign.pem');
    expect((await recgw('ca', 'sign', '--ca', caDir, '--csr', csrPath, '--out', foreign)).code).toBe(0);
    const refused = await recgw('enrol', 'install', '--config', config, '--cert', foreign);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to install the certificate: the device certificate is foreign/);

    const signed = join(dir, 'signed.pem');
    const sign = await recgw('ca', 'sign', '--ca', ca, '--csr', csrPath, '--out', signed);
    expect(sign.code).toBe(0);
    expect(sign.stdout).toContain('Issued a device certificate for cli-1');

    const install = await recgw('enrol', 'install', '--config', config, '--cert', signed);
    expect(install.stderr).toBe('');
    expect(install.code).toBe(0);
    expect(install.stdout).toMatch(/Installed the device certificate for cli-1 \(valid until /);

    const show = await recgw('enrol', 'show', '--config', config);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/cli-1: enrolled; certificate valid from .* until .*, serial [0-9A-F]+/);

    // Nothing to export before the gateway has run once; then the evidence core opens the ledger.
    const out = join(dir, 'export');
    const early = await recgw('export', '--config', config, '--out', out);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/state database .*state\.db does not exist: is stateDir in the config right, and has the gateway run\?/);
    const core = await startEvidenceCore(loadConfig(config), silentLogger);
    await core.stop();

    const exp = await recgw('export', '--config', config, '--out', out);
    expect(exp.stderr).toBe('');
    expect(exp.code).toBe(0);
    expect(exp.stdout).toMatch(/Exported 2 ledger entries and 0 sealed segments to /);
    expect(existsSync(join(out, 'cli-1', 'head.json'))).toBe(true);
    const v = await recgw('verify', out, '--ca', join(ca, 'ca.pem'), '--json');
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toEqual({ ok: true, findings: [], devices: [{ deviceId: 'cli-1', agency: false, entries: 2, segments: 0, sessions: [] }] });
    // The same export is not valid for another agency's CA.
    const other = await recgw('verify', out, '--ca', caCert(), '--json');
    expect(other.code).toBe(1);
  });
});
