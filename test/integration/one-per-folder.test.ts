/**
 * Issue 15 item 8: one gateway per state folder, one receiver per name on a store. Against real processes: `recgw
 * run` recording ffmpeg test sources and uploading through a real mosquitto to `recgw receiver`.
 * - A second `recgw run` on a recording gateway's config exits 2 at once, naming the holder, and changes nothing:
 *   the ledger it had is there unchanged with nothing of the second's after it, its sealed files and lock are
 *   byte-identical, the session and ffmpeg processes are the same; the export verifies.
 * - A second `recgw receiver` on a running receiver's config exits 2 and leaves its store byte-identical; the first
 *   still takes uploads.
 * - After a kill -9 the lock is free: a new receiver and a new gateway start and recover; the export and the store
 *   verify. The tests run in order on one installation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hashTree, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { withBroker } from '../helpers/mosquitto.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { entries, exportDevice, interruptionReasons, pidsMatching, sleep, verify } from '../helpers/evidence.js';
import { ledgerLines, makeReceiver, startReceiver, waitDelivered, type ReceiverProcess } from '../helpers/uplink-world.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { parseLine, type LedgerEntry } from '../../src/evidence/entry.js';
import { stateLockPath } from '../../src/app/state-lock.js';
import { receiverLockPath } from '../../src/receiver/name-lock.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const officers = [
  { name: '张三', badge: '13010001' },
  { name: '李四', badge: '13010002' },
];
const SOURCES = [
  { id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 },
  { id: 'mic1', kind: 'microphone', driver: 'sim' },
];

/** Run `recgw <args>` to its end, as an operator would a second time; with how long it took. */
function recgwSync(...args: string[]): { status: number | null; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, RECGW_LOG_LEVEL: 'info' } });
  return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

const types = (lines: string[]): string[] =>
  lines.map((l) => {
    const p = parseLine(l);
    if (!p.ok) throw new Error(p.error);
    return p.entry.type;
  });

describe('one gateway per state folder, one receiver per name', () => {
  const ca = makeCa();
  const broker = withBroker({ caDir: ca.dir, receivers: ['receiver:1'] });
  let p: ReturnType<typeof makeGateway>;
  let rx: ReturnType<typeof makeReceiver>;
  let receiver: ReceiverProcess | undefined;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    p = makeGateway(ca.dir, {
      deviceId: 'room-1',
      config: {
        time: { source: 'host', assumeSynchronised: true },
        recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: SOURCES },
        uplink: { broker: broker.url, answerTimeoutSeconds: 2 },
      },
    });
    rx = makeReceiver(ca.dir, 'receiver:1', broker.url);
  }, 120_000);

  /**
   * Close the session, wait for the receiver's receipts and stop the gateway cleanly: its export must verify.
   * `statement`: the officers' written statement, for a session nobody was heard explaining a resume in.
   */
  async function closeAndVerify(g: GatewayProcess, r: ReceiverProcess, statement?: string): Promise<LedgerEntry[]> {
    await g.call('session.stop', {});
    if (statement) await g.call('session.statement', { text: statement, officers });
    await waitDelivered(p, 30_000, () => g.log() + r.log());
    expect(await g.stop()).toBe(0);
    gateway = undefined;
    const out = tmp();
    exportDevice(p.configPath, out);
    expect((await verify(out, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
    return entries(join(out, p.config.deviceId));
  }

  afterAll(async () => {
    await gateway?.kill9().catch(() => undefined);
    await receiver?.kill9().catch(() => undefined);
  });

  it('a second `recgw run` on a recording gateway exits 2 at once, names the holder, and changes nothing', async () => {
    receiver = await startReceiver(rx);
    const g = await startGateway(p.configPath, p.config.control.socket);
    gateway = g;
    const dir = p.config.stateDir;
    const spool = join(dir, 'spool');
    await g.call('session.start', { matter: 'sampling', caseRef: 'ONE-1', officers });
    await sleep(5000);
    const st = await g.call<RecorderStatus>('status');
    expect(st.session?.state).toBe('recording');
    const sealed = (): string[] => readdirSync(join(dir, 'sealed')).sort();
    expect(sealed().length).toBeGreaterThan(0);
    const ffmpegs = pidsMatching(spool).sort();
    expect(ffmpegs.length).toBeGreaterThanOrEqual(2);
    // What existed before: the ledger so far, the sealed files (never rewritten), and the lock naming the first.
    const ledgerBefore = ledgerLines(p);
    const sealedBefore = hashTree(join(dir, 'sealed'));
    const lock = readFileSync(stateLockPath(dir), 'utf8');
    expect(JSON.parse(lock)).toMatchObject({ pid: g.proc.pid });

    const second = recgwSync('run', '--config', p.configPath);
    console.log(`second recgw run refused in ${second.ms} ms`);
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`recgw run: the state folder ${dir} is in use by another gateway: held by pid ${g.proc.pid} since `);
    expect(second.stderr).toContain(`systemctl stop recgw, or kill ${g.proc.pid}`);
    expect(second.stderr).toContain('Nothing was changed.');
    expect(second.stderr).not.toMatch(/\n\s+at /);
    // "At once": it locks right after reading the config, before the gateway's modules load (0.3-1.2 s measured at
    // a load of 9 on two cores, against 2-4 s for loading them; a start of the gateway takes several seconds more).
    expect(second.ms).toBeLessThan(4000);

    // The first goes on recording and sealing as before, and nothing of the second is in its ledger.
    await sleep(2500);
    const ledgerAfter = ledgerLines(p);
    expect(ledgerAfter.slice(0, ledgerBefore.length)).toEqual(ledgerBefore);
    const added = types(ledgerAfter.slice(ledgerBefore.length));
    expect(added).toContain('segment.sealed');
    expect(added.filter((t) => t === 'service.started' || t === 'interruption.started' || t === 'session.closed')).toEqual([]);
    const sealedAfter = hashTree(join(dir, 'sealed'));
    for (const [f, h] of Object.entries(sealedBefore)) expect(sealedAfter[f], f).toBe(h);
    expect(sealed().length).toBeGreaterThan(Object.keys(sealedBefore).length);
    expect(readFileSync(stateLockPath(dir), 'utf8')).toBe(lock);
    expect(pidsMatching(spool).sort()).toEqual(ffmpegs);
    const st2 = await g.call<RecorderStatus>('status');
    expect(st2.session?.sessionId).toBe(st.session!.sessionId);
    expect(st2.session?.state).toBe('recording');
    expect(st2.sources.every((s) => s.running && s.down === null)).toBe(true);

    const all = await closeAndVerify(g, receiver!);
    expect(all.filter((e) => e.type === 'service.started').map((e) => e.body.previousStop)).toEqual(['clean']);
    expect(interruptionReasons(all)).toEqual([]);
  }, 60_000);

  it('a second `recgw receiver` on a running receiver exits 2 and leaves its store byte-identical; the first still serves', async () => {
    const r = receiver!;
    const store = rx.config.store;
    // Idle (the gateway has stopped) and settled: the agency log publishes at most once a second.
    await sleep(1500);
    const before = hashTree(store);
    const logBefore = r.log().length;

    const second = recgwSync('receiver', '--config', rx.configPath);
    console.log(`second recgw receiver refused in ${second.ms} ms`);
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`recgw receiver: receiver receiver:1 is already running on the store ${store}: held by pid ${r.proc.pid} since `);
    expect(second.stderr).toContain(`(lock file ${receiverLockPath(store, 'receiver:1')})`);
    expect(second.stderr).toContain(`systemctl stop recgw-receiver, or kill ${r.proc.pid}`);
    expect(second.stderr).not.toMatch(/\n\s+at /);
    expect(second.ms).toBeLessThan(4000);
    expect(hashTree(store)).toEqual(before);
    // It never reached the broker, so the first was not thrown off.
    await sleep(500);
    expect(r.log().slice(logBefore)).not.toMatch(/receiver ready|certificate of its own|broker connection problem/);

    // The first still takes uploads: the gateway's next start is delivered to it.
    const g = await startGateway(p.configPath, p.config.control.socket);
    gateway = g;
    await waitDelivered(p, 30_000, () => g.log() + r.log());
    expect(await g.stop()).toBe(0);
    gateway = undefined;
  }, 60_000);

  it('after a kill -9 the lock is free: a new receiver and a new gateway start and recover; export and store verify', async () => {
    await receiver!.kill9();
    receiver = await startReceiver(rx);
    const r = receiver;

    let g = await startGateway(p.configPath, p.config.control.socket);
    gateway = g;
    await g.call('session.start', { matter: 'sampling', caseRef: 'ONE-2', officers });
    await sleep(3000);
    await g.kill9();
    // Its ffmpeg runs go on recording (as under systemd's KillMode=process) and do not hold the lock: Node opens
    // files close-on-exec, so the children never had it.
    expect(pidsMatching(join(p.config.stateDir, 'spool')).length).toBeGreaterThanOrEqual(2);
    g = await startGateway(p.configPath, p.config.control.socket);
    gateway = g;
    expect(JSON.parse(readFileSync(stateLockPath(p.config.stateDir), 'utf8'))).toMatchObject({ pid: g.proc.pid });
    const st = await g.call<RecorderStatus>('status');
    expect(st.session?.caseRef).toBe('ONE-2');
    await sleep(2000);
    // The restart resumed the session; the simulated microphone plays a tone, so nobody was heard giving the reason.
    const all = await closeAndVerify(g, r, '网关断电重启，恢复录制后未口述原因，现书面说明。');
    expect(await r.stop()).toBe(0);
    receiver = undefined;
    expect(all.filter((e) => e.type === 'explanation.missing').map((e) => e.body.resumed)).toEqual([['restart']]);
    expect(all.filter((e) => e.type === 'service.started').map((e) => e.body.previousStop)).toEqual(['clean', 'clean', 'clean', 'unclean']);
    expect(interruptionReasons(all)).toEqual(['power-loss']);
    expect((await verify(rx.config.store, ca.paths.caCert, ca.paths.agencyKey)).findings).toEqual([]);
  }, 60_000);
});
