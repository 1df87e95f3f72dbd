/**
 * Issue 7 acceptance against a real `recgw run` (sim sources, real ffmpeg), the way systemd runs it:
 * - SIGTERM during a session: READY=1, watchdog pings and STOPPING=1 reach NOTIFY_SOCKET (a datagram socket of
 *   this test's own, standing in for systemd's); exit 0 within the unit's TimeoutStopSec; the ledger shows a clean
 *   stop and the next start says so (not a power loss); the verifier passes.
 * - A damaged state database at start: `recgw run` refuses with a message naming the file and what to do, exits
 *   non-zero, and changes nothing on disk (every file in the state folder hashed before and after).
 * The second test uses the state the first one leaves.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, openSync, readFileSync, readdirSync, statSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cleanupTmp, hashTree, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { entries, exportDevice, interruptionReasons, pidsMatching, sleep, verify } from '../helpers/evidence.js';
import { filesystemHealth, healthSummary } from '../../src/app/health.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const UNIT = readFileSync(join(import.meta.dirname, '../../systemd/recgw.service'), 'utf8');
const STOP_TIMEOUT_MS = Number(/^TimeoutStopSec=(\d+)s$/m.exec(UNIT)![1]) * 1000;
const officers = [{ name: '张三', badge: '13010001' }];
const SOURCES = [
  { id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 },
  { id: 'mic1', kind: 'microphone', driver: 'sim' },
];

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

async function notifySocket(dir: string): Promise<{ path: string; messages: () => string[]; close: () => void }> {
  const script = join(dir, 'notify-receiver.py');
  writeFileSync(script, RECEIVER_PY);
  const path = join(dir, 'notify.sock');
  const proc: ChildProcess = spawn('python3', [script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; !out.includes('LISTENING'); i++) {
    if (i > 100) throw new Error('the notify receiver did not start');
    await sleep(50);
  }
  return { path, messages: () => out.split('\n').filter((l) => l && l !== 'LISTENING' && l !== 'BARRIER=1'), close: () => proc.kill() };
}

/** Start `recgw run` with extra environment (the helper passes process.env on). */
async function startWith(env: Record<string, string>, configPath: string, socket: string): Promise<GatewayProcess> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await startGateway(configPath, socket);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('recgw run as a systemd service', () => {
  const ca = makeCa();
  const p = makeGateway(ca.dir, { config: { time: { source: 'host', assumeSynchronised: true }, recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: SOURCES } } });
  const socket = p.config.control.socket;
  afterAll(cleanupTmp);

  it('SIGTERM during a session: notifications, exit 0 in time, a clean stop in the ledger, a clean next start, verified', async () => {
    const notify = await notifySocket(tmp());
    try {
      const gw = await startWith({ NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '1000000', RECGW_HEALTH_SECONDS: '2' }, p.configPath, socket);
      await gw.call('session.start', { matter: 'sampling', caseRef: 'S-1', officers });
      await sleep(5000);
      const st = await gw.call<RecorderStatus>('status');
      expect(st.session?.state).toBe('recording');
      // ffmpeg does not inherit systemd's variables (it could otherwise speak for the service).
      const ffmpegs = pidsMatching(join(p.config.stateDir, 'spool'));
      expect(ffmpegs.length).toBeGreaterThan(0);
      for (const pid of ffmpegs) expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).not.toMatch(/NOTIFY_SOCKET|WATCHDOG_USEC/);
      const t0 = Date.now();
      expect(await gw.stop()).toBe(0);
      const took = Date.now() - t0;
      console.log(`SIGTERM to exit during a session: ${took} ms (TimeoutStopSec ${STOP_TIMEOUT_MS} ms)`);
      expect(took).toBeLessThan(STOP_TIMEOUT_MS);
      await sleep(200);

      const msgs = notify.messages();
      const ready = msgs.findIndex((m) => m.startsWith('READY=1'));
      const stopping = msgs.findIndex((m) => m.startsWith('STOPPING=1'));
      const pings = msgs.flatMap((m, i) => (m === 'WATCHDOG=1' ? [i] : []));
      expect(ready, msgs.join('\n')).toBe(0);
      expect(msgs[ready]).toContain(`STATUS=recording gateway ${p.config.deviceId}`);
      expect(pings.length).toBeGreaterThanOrEqual(5);
      expect(pings.every((i) => i > ready && i < stopping)).toBe(true);
      expect(stopping).toBe(msgs.length - 1);

      const lines = gw
        .log()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const health = lines.filter((l) => l.msg === 'health');
      expect(health.length).toBeGreaterThanOrEqual(2);
      expect(health.some((h) => h.recording === 'recording')).toBe(true);
      expect(health.at(-1)).toMatchObject({ sources: [expect.objectContaining({ id: 'cam1' }), expect.objectContaining({ id: 'mic1' })], clock: { synced: true } });
      expect((health.at(-1)!.storage as { freeMB: number }).freeMB).toBeGreaterThan(0);
      expect(lines.some((l) => l.msg === 'stopped cleanly')).toBe(true);
    } finally {
      notify.close();
    }

    const again = await startGateway(p.configPath, socket);
    expect(await again.stop()).toBe(0);

    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const dev = join(out, p.config.deviceId);
    const all = entries(dev);
    expect(all.filter((e) => e.type === 'service.started').map((e) => e.body.previousStop)).toEqual(['clean', 'clean']);
    expect(all.filter((e) => e.type === 'service.stopped').map((e) => e.body)).toEqual([{ clean: true }, { clean: true }]);
    expect(interruptionReasons(all)).toEqual([]);
    expect(all.filter((e) => e.type === 'session.closed')).toHaveLength(1);
    expect(all.filter((e) => e.type === 'segment.sealed').length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('the health line names what needs attention', () => {
    const status = {
      deviceId: 'x',
      session: null,
      lackingStatement: [],
      sources: [
        { id: 'cam1', kind: 'camera', wanted: true, running: false, producing: false, lastSegmentEnd: null, restarts: 3, down: { since: '', detail: 'ffmpeg exited with status 1: /dev/video0: No such file or directory', words: '摄像机已断开或找不到设备', log: '/spool/cam1/failed-runs/r.log' }, lastOutage: null, picture: 'ok', bitrate: undefined },
        { id: 'mic1', kind: 'microphone', wanted: true, running: true, producing: true, lastSegmentEnd: null, restarts: 0, down: null, lastOutage: null, picture: 'silent', bitrate: 64000 },
      ],
      storage: { freeBytes: 10e6, usedBytes: 5e9, quotaBytes: null, full: true },
      clock: { source: 'rtc', synced: false },
      battery: null,
      gps: null,
      sealing: { pending: 0 },
    } as RecorderStatus;
    const fs = { device: 'mmcblk0p2', errors: 3, lifetimeWrittenBytes: 2e12 };
    const h = healthSummary({ status, queue: { entries: 2, files: 1, bytes: 3e6, nextDeadlineMs: 1000 }, fs, previousFsErrors: 1, now: 2000 });
    expect(h).toMatchObject({ recording: 'idle', sources: [{ id: 'cam1', state: 'down' }, { id: 'mic1', state: 'silent' }], storage: { freeMB: 10, fsErrors: 3, lifetimeWrittenGB: 2000 } });
    expect(h.problems).toEqual([
      "source cam1 down: 摄像机已断开或找不到设备 (ffmpeg exited with status 1: /dev/video0: No such file or directory; ffmpeg's log: /spool/cam1/failed-runs/r.log)",
      'source mic1 silent',
      'storage full',
      'clock not synchronised (rtc)',
      'filesystem mmcblk0p2 reported 2 new error(s)',
      'upload deadline missed',
    ]);
    // This machine's state folder is on ext4 or not: either way a number or nothing, never a throw.
    const here = filesystemHealth(p.config.stateDir);
    if (here) expect(here.errors).toBeGreaterThanOrEqual(0);
  });

  it('a damaged state database: refused with the file named and what to do, and nothing on disk changes', () => {
    const dir = p.config.stateDir;
    const db = join(dir, 'state.db');
    expect(readdirSync(join(dir, 'sealed')).length).toBeGreaterThan(0);
    // Overwrite two pages in the middle of the file (a clean stop left no WAL: everything is in state.db).
    const size = statSync(db).size;
    const at = Math.floor(size / 2 / 4096) * 4096;
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, at);
    closeSync(fd);
    // The damage is real: SQLite's own check on a copy fails.
    const copy = join(tmp(), 'copy.db');
    copyFileSync(db, copy);
    expect(() => {
      const c = new Database(copy, { readonly: true });
      try {
        const rows = c.pragma('quick_check') as { quick_check: string }[];
        if (rows.some((r) => r.quick_check !== 'ok')) throw new Error(rows[0]!.quick_check);
      } finally {
        c.close();
      }
    }).toThrow();

    const before = hashTree(dir);
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', p.configPath], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.status).not.toBeNull();
    expect(r.stderr).toContain(`state database ${db} is damaged`);
    expect(r.stderr).toMatch(/left untouched/);
    expect(r.stderr).toMatch(/restore it from backup/);
    expect(r.stderr).toMatch(/Do not delete it/);
    expect(r.stderr).toContain('docs/operations.md');
    // Every file is as it was. SQLite's companions of the database come and go with each connection (an earlier
    // read left them): the shared-memory index is not data, and the WAL holds nothing before or after.
    const after = hashTree(dir);
    const data = (t: Record<string, string>): Record<string, string> =>
      Object.fromEntries(Object.entries(t).filter(([f]) => f !== 'state.db-shm' && f !== 'state.db-wal'));
    expect(data(after)).toEqual(data(before));
    for (const t of [before, after]) expect(t['state.db-wal'] ?? '0:').toMatch(/^0:/);
  }, 60_000);
});
