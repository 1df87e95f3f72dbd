/**
 * Issue 7: scripts/install.sh into a root folder, and the installed service run from there the way its unit says.
 *
 * The root is as close to a clean Debian root as this machine allows: debootstrap is not installed on the build
 * machine (and a bookworm debootstrap, minutes and hundreds of MB, would not fit this suite's time), so the root is
 * built by hand with what the installer relies on in a fresh debootstrap of bookworm: base-passwd's passwd and
 * group (and shadow files), login.defs, nologin, merged-/usr symlinks, and the usual top-level folders. systemd cannot run here (it is not PID 1 on the build machine), so
 * the unit is enabled offline (systemctl --root) and the service is run as the unit describes it: its ExecStart
 * argv and Environment=, as its User= with the groups useradd gave it (setpriv --init-groups), no new privileges,
 * no capabilities, UMask=0027, chrooted into that root (the host's /usr bind-mounted read-only in a private mount
 * namespace, for node, ffmpeg and systemd-notify), with NOTIFY_SOCKET and WATCHDOG_USEC set as systemd sets them.
 *
 * The installer takes this checkout's node_modules (--reuse-modules) so that the test does not spend 60-90 s in
 * `npm ci` compiling better-sqlite3; RECGW_TEST_FULL_INSTALL=1 runs the full `npm ci` + build + prune path instead.
 * The tests run in order and share the root.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTmp, makeCa, tmp } from '../helpers/fixtures.js';
import { sleep } from '../helpers/evidence.js';
import { signDeviceCsr } from '../../src/pki/ca.js';
import { call } from '../../src/control/client.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';

const REPO = join(import.meta.dirname, '../..');
const INSTALL = join(REPO, 'scripts/install.sh');
const FULL = process.env.RECGW_TEST_FULL_INSTALL === '1';

/** A Debian-like root folder (see above). */
function debianRoot(): string {
  const root = tmp('recgw-root-');
  chmodSync(root, 0o755);
  for (const d of ['etc', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'var/lib', 'var/log', 'opt', 'home', 'root', 'proc', 'sys', 'dev', 'run', 'tmp', 'srv', 'mnt', 'media']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'root'), 0o700);
  for (const l of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(root, l));
  copyFileSync('/usr/share/base-passwd/passwd.master', join(root, 'etc/passwd'));
  copyFileSync('/usr/share/base-passwd/group.master', join(root, 'etc/group'));
  const names = (f: string): string[] => readFileSync(join(root, f), 'utf8').trim().split('\n').map((l) => l.split(':')[0]!);
  writeFileSync(join(root, 'etc/shadow'), names('etc/passwd').map((n) => `${n}:*:19700:0:99999:7:::\n`).join(''), { mode: 0o640 });
  writeFileSync(join(root, 'etc/gshadow'), names('etc/group').map((n) => `${n}:*::\n`).join(''), { mode: 0o640 });
  for (const f of ['/etc/login.defs', '/etc/os-release']) copyFileSync(f, join(root, f));
  copyFileSync('/usr/sbin/nologin', join(root, 'usr/sbin/nologin'));
  chmodSync(join(root, 'usr/sbin/nologin'), 0o755);
  return root;
}

function install(root: string, extra: string[] = []): { status: number | null; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync('bash', [INSTALL, '--root', root, ...(FULL ? [] : ['--reuse-modules']), ...extra], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, err: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
}

const passwd = (root: string, name: string): string[] | undefined =>
  readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
const group = (root: string, name: string): string[] | undefined =>
  readFileSync(join(root, 'etc/group'), 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
const mode = (p: string): number => statSync(p).mode & 0o7777;
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** The unit's ExecStart argv, Environment= and User=. */
function unitExec(unitText: string): { argv: string[]; env: string[]; user: string } {
  const value = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(unitText)![1]!;
  return { argv: value('ExecStart').split(/\s+/), env: value('Environment').split(/\s+/), user: value('User') };
}

/**
 * Run argv in a chroot of `root` as `user`, the way systemd would start the unit (see the top of the file).
 * The shell writes its pid, which after the execs is the pid of the program itself.
 */
function inRoot(root: string, user: string, argv: string[], env: string[]): ChildProcess {
  const script = [
    'set -e',
    'r=$1; u=$2; shift 2',
    'mount --bind /usr "$r/usr"',
    'mount -o remount,bind,ro "$r/usr"',
    'mount -t proc proc "$r/proc"',
    'mount --rbind /dev "$r/dev"',
    'umask 0027',
    'echo $$ > "$r/run/service.pid"',
    'exec chroot "$r" /usr/bin/setpriv --reuid="$u" --regid="$u" --init-groups --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"',
  ].join('\n');
  const home = passwd(root, user)![5]!;
  const envArgs = ['/usr/bin/env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin', `HOME=${home}`, `USER=${user}`, `LOGNAME=${user}`, ...env];
  return spawn('unshare', ['--mount', '--propagation', 'private', '--fork', '--kill-child', '--', 'sh', '-c', script, 'sh', root, user, ...envArgs, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function inRootSync(root: string, user: string, argv: string[]): Promise<{ code: number | null; out: string }> {
  const p = inRoot(root, user, argv, []);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
  return { code, out };
}

/** systemd's side of sd_notify: a datagram socket printing each message; it closes BARRIER=1's fd as systemd does. */
const RECEIVER_PY = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
print("LISTENING", flush=True)
while True:
    data, anc, _f, _a = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds: os.close(fd)
    print(data.decode("utf-8", "replace").replace("\\n", "|"), flush=True)
`;

/**
 * Start the installed unit's ExecStart in the root and wait for READY=1; SIGTERM it and wait for the exit.
 * Returns the log, the notifications and the exit code.
 */
async function runService(root: string, unitText: string, whileRunning: () => Promise<void>): Promise<{ code: number | null; log: string; notes: string[]; stopMs: number }> {
  const { argv, env, user } = unitExec(unitText);
  const sock = join(root, 'run/notify.sock');
  rmSync(sock, { force: true });
  const script = join(tmp(), 'notify.py');
  writeFileSync(script, RECEIVER_PY);
  const receiver = spawn('python3', [script, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let notes = '';
  receiver.stdout!.on('data', (d: Buffer) => (notes += d.toString()));
  const messages = (): string[] => notes.split('\n').filter((l) => l && l !== 'LISTENING' && l !== 'BARRIER=1');
  try {
    for (let i = 0; !notes.includes('LISTENING'); i++) {
      if (i > 100) throw new Error('the notify receiver did not start');
      await sleep(50);
    }
    const proc = inRoot(root, user, argv, [...env, 'NOTIFY_SOCKET=/run/notify.sock', 'WATCHDOG_USEC=2000000']);
    let log = '';
    proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    const deadline = Date.now() + 30_000;
    while (!messages().some((m) => m.startsWith('READY=1'))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`the service did not send READY=1:\n${log}`);
      }
      await sleep(100);
    }
    await whileRunning();
    const pid = Number(readFileSync(join(root, 'run/service.pid'), 'utf8'));
    const t0 = Date.now();
    process.kill(pid, 'SIGTERM');
    const code = await exited;
    const stopMs = Date.now() - t0;
    await sleep(200);
    return { code, log, notes: messages(), stopMs };
  } finally {
    receiver.kill();
  }
}

describe('scripts/install.sh into a Debian root', () => {
  const ca = makeCa();
  const root = debianRoot();
  const R = (p: string): string => join(root, p);
  const timings: string[] = [];
  afterAll(() => {
    console.log(timings.join('\n'));
    cleanupTmp();
  });

  it('a fresh install: the app, the user and groups, folders and permissions, the unit enabled; not started without enrolment', () => {
    const r = install(root);
    timings.push(`first install: ${r.ms} ms`);
    expect(r.status, r.err).toBe(0);

    // The app: built, without dev packages or tests, owned by root, read-only to the service.
    for (const f of ['bin/recgw.js', 'dist/cli/main.js', 'dist/app/systemd.js', 'node_modules/better-sqlite3/package.json', 'package.json', 'systemd/recgw.service', 'docs/operations.md', 'REVISION']) {
      expect(existsSync(R(`opt/recgw/${f}`)), f).toBe(true);
    }
    for (const f of ['node_modules/typescript', 'node_modules/vitest', 'test', 'bench']) expect(existsSync(R(`opt/recgw/${f}`)), f).toBe(false);
    expect(statSync(R('opt/recgw')).uid).toBe(0);
    expect(mode(R('opt/recgw'))).toBe(0o755);
    expect(mode(R('opt/recgw/dist/cli/main.js')) & 0o022).toBe(0);
    expect(readFileSync(R('opt/recgw/REVISION'), 'utf8')).toMatch(/^recgw \d+\.\d+\.\d+\ncommit [0-9a-f]{40}/);
    expect(readlinkSync(R('usr/local/bin/recgw'))).toBe('/opt/recgw/bin/recgw.js');
    expect(readdirSync(R('opt'))).toEqual(['recgw']);

    // The user: a system user with no login, home in its state folder, in its own group and the device groups.
    const u = passwd(root, 'recgw')!;
    expect(u).toBeDefined();
    expect(Number(u[2])).toBeLessThan(1000);
    expect(u.slice(5)).toEqual(['/var/lib/recgw', '/usr/sbin/nologin']);
    const gid = Number(group(root, 'recgw')![2]);
    expect(Number(u[3])).toBe(gid);
    for (const g of ['video', 'audio', 'dialout', 'gpio']) expect(group(root, g)![3]!.split(','), g).toContain('recgw');
    expect(readFileSync(R('etc/shadow'), 'utf8')).toMatch(/^recgw:/m);

    // Config (from the example, for root and the service only) and state (the service's own, 0750).
    expect(statSync(R('etc/recgw'))).toMatchObject({ uid: 0, gid });
    expect(mode(R('etc/recgw'))).toBe(0o770); // the console's config editor writes there
    expect(readFileSync(R('etc/recgw/recgw.json'), 'utf8')).toBe(readFileSync(join(REPO, 'config/interview-room.json'), 'utf8'));
    expect(statSync(R('etc/recgw/recgw.json'))).toMatchObject({ uid: 0, gid });
    expect(mode(R('etc/recgw/recgw.json'))).toBe(0o640);
    expect(statSync(R('var/lib/recgw'))).toMatchObject({ uid: Number(u[2]), gid });
    expect(mode(R('var/lib/recgw'))).toBe(0o750);

    // The unit: installed as shipped and enabled for boot.
    expect(readFileSync(R('etc/systemd/system/recgw.service'), 'utf8')).toBe(readFileSync(join(REPO, 'systemd/recgw.service'), 'utf8'));
    expect(lstatSync(R('etc/systemd/system/multi-user.target.wants/recgw.service')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(R('etc/systemd/system/multi-user.target.wants/recgw.service'))).toBe('/etc/systemd/system/recgw.service');

    // Not configured or enrolled yet: the next steps, not a start.
    expect(r.err).toContain('wrote /etc/recgw/recgw.json from interview-room.json');
    expect(r.err).toContain('next steps');
    expect(r.err).toContain('runuser -u recgw -- recgw enrol csr --config /etc/recgw/recgw.json');
  }, 320_000);

  it('enrolled as the service user, the installed unit runs: READY, status, watchdog, SIGTERM, a clean stop', async () => {
    const gid = Number(group(root, 'recgw')![2]);
    const uid = Number(passwd(root, 'recgw')![2]);
    for (const [from, to] of [
      [ca.paths.caCert, 'etc/recgw/ca.pem'],
      [ca.paths.agencyEncCert, 'etc/recgw/agency-enc.pem'],
    ] as const) {
      copyFileSync(from, R(to));
      chownSync(R(to), 0, gid);
      chmodSync(R(to), 0o640);
    }
    const config = {
      deviceId: 'gw-install-1',
      installation: 'interview-room',
      place: '安装测试 一号询问室',
      stateDir: '/var/lib/recgw',
      agency: { caCert: '/etc/recgw/ca.pem', encryptionCert: '/etc/recgw/agency-enc.pem' },
      time: { source: 'host', assumeSynchronised: true },
      recording: {
        segmentSeconds: 2,
        expectedSessionMinutes: 1,
        sources: [
          { id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 },
          { id: 'mic1', kind: 'microphone', driver: 'sim' },
        ],
      },
    };
    writeFileSync(R('etc/recgw/recgw.json'), JSON.stringify(config, null, 2) + '\n');
    const recgw = ['/usr/bin/env', 'node', '/opt/recgw/bin/recgw.js'];
    const cfg = ['--config', '/etc/recgw/recgw.json'];

    // The documented enrolment, run as the service user.
    const check = await inRootSync(root, 'recgw', [...recgw, 'config', 'check', ...cfg]);
    expect(check.code, check.out).toBe(0);
    const csr = await inRootSync(root, 'recgw', [...recgw, 'enrol', 'csr', ...cfg]);
    expect(csr.code, csr.out).toBe(0);
    const { certPem } = signDeviceCsr({ caDir: ca.dir, csrPem: readFileSync(R('var/lib/recgw/identity/device.csr'), 'utf8') });
    writeFileSync(R('tmp/device.pem'), certPem, { mode: 0o644 });
    const inst = await inRootSync(root, 'recgw', [...recgw, 'enrol', 'install', ...cfg, '--cert', '/tmp/device.pem']);
    expect(inst.code, inst.out).toBe(0);
    expect(statSync(R('var/lib/recgw/identity/device-key.pem'))).toMatchObject({ uid });
    expect(mode(R('var/lib/recgw/identity/device-key.pem'))).toBe(0o600);

    const unit = readFileSync(R('etc/systemd/system/recgw.service'), 'utf8');
    const stopLimitMs = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)![1]) * 1000;
    const run = await runService(root, unit, async () => {
      const st = await call<RecorderStatus>(R('var/lib/recgw/control.sock'), 'status', {});
      expect(st.deviceId).toBe('gw-install-1');
      expect(st.sources.map((s) => s.id)).toEqual(['cam1', 'mic1']);
      await sleep(2500); // a watchdog ping or two (every WATCHDOG_USEC / 2 = 1 s)
    });
    timings.push(`installed service: SIGTERM to exit ${run.stopMs} ms`);
    expect(run.code, run.log).toBe(0);
    expect(run.stopMs).toBeLessThan(stopLimitMs);
    expect(run.notes[0]).toMatch(/^READY=1\|STATUS=recording gateway gw-install-1/);
    expect(run.notes).toContain('WATCHDOG=1');
    expect(run.notes.at(-1)).toMatch(/^STOPPING=1/);
    expect(run.log).toContain('"msg":"gateway ready"');
    expect(run.log).toContain('"msg":"health"');
    expect(run.log).toContain('"msg":"stopped cleanly"');
    // It ran as recgw with UMask=0027: the state it made is the service's and not world-readable.
    expect(statSync(R('var/lib/recgw/state.db'))).toMatchObject({ uid, gid });
    expect(mode(R('var/lib/recgw/state.db')) & 0o007).toBe(0);
  }, 60_000);

  it('re-running upgrades in place: the changed config, the keys and the state stay; the app is replaced', async () => {
    const conf = R('etc/recgw/recgw.json');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('安装测试 一号询问室', '安装测试 二号询问室 (changed on site)'));
    const kept = ['etc/recgw/recgw.json', 'etc/recgw/ca.pem', 'var/lib/recgw/identity/device-key.pem', 'var/lib/recgw/identity/device.pem', 'var/lib/recgw/state.db'];
    const before = Object.fromEntries(kept.map((f) => [f, `${sha(R(f))}:${mode(R(f))}:${statSync(R(f)).uid}`]));
    const sealedBefore = readdirSync(R('var/lib/recgw')).sort();
    const appBefore = statSync(R('opt/recgw')).ino;
    const usersBefore = readFileSync(R('etc/passwd'), 'utf8');

    const r = install(root);
    timings.push(`re-install (upgrade): ${r.ms} ms`);
    expect(r.status, r.err).toBe(0);
    expect(r.err).toContain('kept the existing config /etc/recgw/recgw.json');
    expect(r.err).toContain('configured and enrolled');
    expect(r.err).not.toContain('next steps');
    expect(Object.fromEntries(kept.map((f) => [f, `${sha(R(f))}:${mode(R(f))}:${statSync(R(f)).uid}`]))).toEqual(before);
    expect(readdirSync(R('var/lib/recgw')).sort()).toEqual(sealedBefore);
    expect(readFileSync(R('etc/passwd'), 'utf8')).toBe(usersBefore);
    expect(statSync(R('opt/recgw')).ino).not.toBe(appBefore);
    expect(readdirSync(R('opt'))).toEqual(['recgw']);

    // The upgraded app runs on the kept state, and knows the last stop was clean.
    const run = await runService(root, readFileSync(R('etc/systemd/system/recgw.service'), 'utf8'), async () => undefined);
    expect(run.code, run.log).toBe(0);
    expect(run.log).toMatch(/"msg":"gateway ready".*"previousStop":"clean"/);
  }, 320_000);
});
