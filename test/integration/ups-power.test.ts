/**
 * Issue 16 item 8 acceptance: power you can trust. A real `recgw run` (sim sources, real ffmpeg) watches a UPS
 * through a real upsd with the dummy-ups driver (Debian's nut-server), which the test drives OL -> OB -> OB LB:
 * - LB during a session becomes the low-battery interruption in the ledger, in words, and the sources stop with
 *   their open segments sealed; mains power back (OL) resumes the recording and ends the interruption.
 * - LB again, then the simulated power-off (kill -9 of the gateway): the interruption and every segment recorded
 *   before it were in the ledger before the kill; the restart on mains resumes the session as after any power loss,
 *   and the verifier passes the whole record.
 * - A forced shutdown (FSD) closes the session, sealed, before the gateway logs out of upsd (so a UPS primary that
 *   counts the gateway's login waits for it); no session can start while the UPS is in FSD.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { startGateway } from '../helpers/gateway-process.js';
import { entries, exportDevice, sleep, verify } from '../helpers/evidence.js';
import { ensureBuilt } from '../helpers/store-fixture.js';
import { NUT_USER, UPS_NAME, startNut, type Nut } from '../helpers/nut.js';
import { Gateway } from '../../src/app/gateway.js';
import { silentLogger } from '../../src/util/log.js';
import type { RecorderStatus } from '../../src/recorder/recorder.js';
import type { SegmentManifest } from '../../src/evidence/types.js';

const officers = [{ name: '张三', badge: '13010001' }, { name: '李四', badge: '13010002' }];
const SOURCES = [
  { id: 'cam1', kind: 'camera', driver: 'sim', width: 320, height: 180, fps: 25 },
  { id: 'mic1', kind: 'microphone', driver: 'sim' },
];
const ONLINE = { 'ups.status': 'OL', 'battery.charge': 100, 'battery.runtime': 1800 };
const ON_BATTERY = { 'ups.status': 'OB DISCHRG', 'battery.charge': 60, 'battery.runtime': 900 };
const LOW = { 'ups.status': 'OB LB', 'battery.charge': 25, 'battery.runtime': 240 };

type Status = RecorderStatus & { ups?: { low: unknown; link: { connected: boolean } } };

/** Poll a status source until `ok` holds (what it waits for named on failure, with the last status). */
async function until(status: () => Promise<Status>, ok: (s: Status) => boolean, what: string, ms = 15_000): Promise<Status> {
  const end = Date.now() + ms;
  let last: Status | undefined;
  for (;;) {
    last = await status();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify({ session: last.session, sources: last.sources, ups: last.ups })}`);
    await sleep(100);
  }
}

const producing = (s: Status): boolean => s.sources.every((x) => x.producing);
const stopped = (s: Status): boolean => s.sources.every((x) => !x.producing);
const lowOnes = (s: Status): NonNullable<Status['session']>['interruptions'] => s.session?.interruptions.filter((i) => i.reason === 'low-battery') ?? [];
const openLow = (s: Status): boolean => s.session?.interruptions.some((i) => i.reason === 'low-battery' && i.end === null) === true;

describe('a UPS through Network UPS Tools', () => {
  const ca = makeCa();
  let nut: Nut;
  beforeAll(async () => {
    ensureBuilt();
    nut = await startNut(ONLINE);
  }, 120_000);
  afterAll(async () => {
    await nut?.stop();
    cleanupTmp();
  });

  it('low battery is in the ledger before the power goes; mains back resumes; a restart after the power cut recovers', async () => {
    await nut.set(ONLINE);
    const p = makeGateway(ca.dir, {
      deviceId: 'car-ups-1',
      config: { time: { source: 'host', assumeSynchronised: true }, power: { nut: { port: nut.port, name: UPS_NAME, pollSeconds: 0.5 } }, recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: SOURCES } },
    });
    const socket = p.config.control.socket;
    const gw = await startGateway(p.configPath, socket);
    const status = (): Promise<Status> => gw.call<Status>('status');
    let lbAt: number;
    try {
      await until(status, (s) => s.ups?.link.connected === true && s.battery?.percent === 100, 'the first UPS reading');
      await gw.call('session.start', { matter: 'sampling', caseRef: 'UPS-1', officers });
      await until(status, producing, 'recording');
      await sleep(3000);

      // On battery is only a warning; LB on battery interrupts, and the sources stop.
      await nut.set(ON_BATTERY);
      await until(status, (s) => s.battery?.onMains === false, 'on battery');
      // (Only low battery counts here: a machine this loaded may stall ffmpeg for a moment, a device-fault of its own.)
      expect(lowOnes(await status())).toEqual([]);
      await nut.set(LOW);
      let st = await until(status, (s) => openLow(s) && stopped(s), 'the low-battery interruption and the sources stopped');
      expect(lowOnes(st)).toEqual([
        { reason: 'low-battery', origin: 'detected', start: expect.any(String), end: null, text: '不间断电源报告电池电量低（LB），电量 25%，剩余约 240 秒：停止录制并封存已录内容，以免断电丢失' },
      ]);
      // Pre-flight refuses a start meanwhile, saying why.
      const checks = await gw.call<{ check: string; ok: boolean; detail: string }[]>('preflight');
      expect(checks.find((c) => c.check === 'ups')).toMatchObject({ ok: false, detail: 'the UPS reports low battery (LB) at 25%, about 240 s left: recording would stop at once; connect mains power' });

      // Mains power back: recording resumes, the interruption ends.
      await nut.set({ ...ONLINE, 'ups.status': 'OL CHRG', 'battery.charge': 26 });
      st = await until(status, (s) => !openLow(s) && producing(s), 'recording again on mains');
      expect(st.session?.state).toBe('recording');
      await sleep(3000);

      // LB again, and the power goes before mains returns.
      await nut.set(LOW);
      st = await until(status, (s) => openLow(s) && stopped(s) && s.sealing.pending === 0, 'interrupted and everything sealed');
      lbAt = Date.parse(lowOnes(st).at(-1)!.start);
      await sleep(1500); // what a UPS's last minute would do: nothing more is recorded
      expect((await status()).sealing.pending).toBe(0);
    } finally {
      await gw.kill9();
    }

    // The power returns; the gateway boots on mains and takes its session up again.
    await nut.set({ ...ONLINE, 'ups.status': 'OL CHRG', 'battery.charge': 15 });
    const again = await startGateway(p.configPath, socket);
    try {
      const call = (): Promise<Status> => again.call<Status>('status');
      await until(call, (s) => s.session?.state === 'recording' && producing(s) && !openLow(s), 'the session resumed after the restart');
      await sleep(2500);
      await again.call('session.stop');
      // Nobody was heard giving the reason after mains power came back, nor after the restart (the simulated
      // microphones play a tone): the officers confirm a written statement instead (issue 16.2).
      await again.call('session.statement', { text: '不间断电源电量低，录制中断；恢复后未口述原因，现书面说明。', officers });
    } finally {
      expect(await again.stop()).toBe(0);
    }

    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    expect(report.findings).toEqual([]);
    const all = entries(join(out, p.config.deviceId));
    const lows = all.filter((e) => e.type === 'interruption.started' && e.body.reason === 'low-battery');
    expect(lows).toHaveLength(2);
    // Mains back was a resume like any other: the gateway listened for the reason, and heard none.
    expect(all.filter((e) => e.type === 'explanation.missing').length).toBeGreaterThanOrEqual(1);
    for (const l of lows) {
      expect(l.body).toMatchObject({ origin: 'detected', cause: 'ups-low-battery', technical: 'ups.status "OB LB", battery.charge 25, battery.runtime 240', text: expect.stringContaining('（LB）') });
    }
    const endOf = (id: unknown): Record<string, unknown> | undefined => all.find((e) => e.type === 'interruption.ended' && e.body.interruptionId === id)?.body;
    expect(endOf(lows[0]!.body.interruptionId)).toMatchObject({ endedBy: 'mains-power' });
    expect(endOf(lows[1]!.body.interruptionId)).toMatchObject({ endedBy: 'service-restart' });
    // Before the power-off: the interruption and every segment recorded up to it.
    const restart = all.findIndex((e) => e.type === 'service.started' && e.body.previousStop === 'unclean');
    expect(restart).toBeGreaterThan(all.indexOf(lows[1]!));
    const sealed = all.map((e, i) => ({ i, e })).filter(({ e }) => e.type === 'segment.sealed');
    const beforeCut = sealed.filter(({ e }) => Date.parse((e.body as unknown as SegmentManifest).start) < lbAt!);
    expect(beforeCut.length).toBeGreaterThanOrEqual(4);
    for (const { i, e } of beforeCut) expect(i, (e.body as unknown as SegmentManifest).segment).toBeLessThan(restart);
    // Nothing was recorded between the low battery and the restart.
    const restartAt = Date.parse(all[restart]!.time);
    for (const { e } of sealed) {
      const m = e.body as unknown as SegmentManifest;
      expect(Date.parse(m.start) < lbAt! + 1000 || Date.parse(m.start) >= restartAt - 1000, m.segment).toBe(true);
    }
    // The restart explains the power cut as the existing rules do.
    expect(all.some((e) => e.type === 'interruption.started' && e.body.reason === 'power-loss' && Date.parse(all[restart]!.time) <= Date.parse(e.time))).toBe(true);
    expect(all.filter((e) => e.type === 'session.closed').map((e) => e.body.reason)).toEqual(['stopped']);
  }, 120_000);

  it('forced shutdown: the session is closed and sealed before the gateway logs out of upsd; no start until it ends', async () => {
    await nut.set(ONLINE);
    const p = makeGateway(ca.dir, {
      deviceId: 'room-ups-2',
      config: { time: { source: 'host', assumeSynchronised: true }, power: { nut: { port: nut.port, name: UPS_NAME, pollSeconds: 0.5, ...NUT_USER } }, recording: { segmentSeconds: 2, expectedSessionMinutes: 1, sources: SOURCES } },
    });
    const gw = new Gateway(p.config, silentLogger);
    await gw.start();
    const rec = gw.recorderInterface;
    const status = (): Promise<Status> => gw.status() as Promise<Status>;
    const logins = async (): Promise<number> => Number((await nut.ask(`GET NUMLOGINS ${UPS_NAME}`)).split(' ')[2]);
    const loginsReach = async (n: number, what: string): Promise<void> => {
      const end = Date.now() + 15_000;
      while ((await logins()) !== n) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
      }
    };
    try {
      await until(status, (s) => s.battery?.percent === 100, 'the first UPS reading');
      expect(await logins()).toBe(1);
      await rec.startSession({ matter: 'hearing', caseRef: 'FSD-1', officers });
      await until(status, producing, 'recording');
      await sleep(3000);
      await nut.set({ 'ups.status': 'FSD OB LB', 'battery.charge': 9, 'battery.runtime': 60 });
      // The moment upsd no longer counts us, the session must already be closed with everything sealed.
      await loginsReach(0, 'the gateway logging out of upsd');
      const st = await status();
      expect(st.session).toMatchObject({ state: 'closed', closedBy: 'terminated', lacksStatement: true });
      expect(lowOnes(st)).toMatchObject([{ origin: 'detected', text: expect.stringContaining('强制关机（FSD）') }]);
      expect(st.sealing.pending).toBe(0);
      expect(stopped(st)).toBe(true);
      await expect(rec.startSession({ matter: 'hearing', caseRef: 'FSD-2', officers, force: true })).rejects.toThrow(
        /cannot start a session: the UPS is in forced shutdown and will cut the power \(ups\.status "FSD OB LB", battery\.charge 9, battery\.runtime 60\); wait until mains power is back/,
      );
      // The UPS comes back (upsd restarted after the power returned): starting is possible again, logged in again.
      await nut.set(ONLINE);
      await until(status, (s) => s.ups?.low === null, 'FSD over');
      await loginsReach(1, 'the gateway logging in again');
    } finally {
      await gw.stop();
    }
    expect(await logins()).toBe(0);
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert, ca.paths.agencyKey);
    // The session ended by an interruption that never resumed: the verifier wants the officers' written statement.
    expect(report.findings).toMatchObject([{ kind: 'unexplained-gap', detail: expect.stringMatching(/ended with an interruption that never resumed, and lacks a written statement/) }]);
    const all = entries(join(out, p.config.deviceId));
    expect(all.find((e) => e.type === 'session.closed')?.body).toMatchObject({ reason: 'terminated', unresumed: ['low-battery'], by: 'ups-forced-shutdown' });
  }, 90_000);
});
