/**
 * Issue 5's full scenario, through the real gateway with real ffmpeg: a control panel on a real serial pty (socat)
 * starts a session with its matter, case and officers; the tally lamp comes on (simulated GPIO: this machine has
 * none); the panel pauses with a reason and resumes, and shows 「请口述中断原因」; the panel stops; the verifier passes
 * and the ledger holds the panel's choices. A UPS on another pty feeds the battery into status and pre-flight.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, makeCa, makeGateway, tmp } from '../helpers/fixtures.js';
import { ptyPair, SimPanel, SimUps, waitFor, type PtyPair } from '../helpers/serial.js';
import { entries, exportDevice, manifests, sleep, verify } from '../helpers/evidence.js';
import { Gateway } from '../../src/app/gateway.js';
import { SimGpioBackend } from '../../src/hal/gpio/index.js';
import { silentLogger } from '../../src/util/log.js';

const LAMP = 17;

describe('a session run from the room control panel', () => {
  const ca = makeCa();
  const pairs: PtyPair[] = [];
  afterAll(async () => {
    for (const p of pairs) await p.stop();
    cleanupTmp();
  });

  it('panel start -> lamp on -> pause with a reason -> resume with the prompt -> stop -> verifier passes', async () => {
    const dir = tmp('recgw-panel-');
    const panelPty = await ptyPair(dir, 'panel');
    const upsPty = await ptyPair(dir, 'ups');
    pairs.push(panelPty, upsPty);
    const p = makeGateway(ca.dir, {
      config: {
        time: { source: 'host', assumeSynchronised: true },
        gpio: { backend: 'sim', lamp: LAMP },
        serial: { panel: { path: panelPty.a }, ups: { path: upsPty.a } },
        recording: { segmentSeconds: 2 },
      },
    });
    const ups = await SimUps.open(upsPty.b);
    ups.set('BATT 87 ONLINE');
    const sim = new SimGpioBackend({ log: silentLogger });
    const gw = new Gateway(p.config, silentLogger, { simGpio: sim });
    await gw.start();
    const panel = await SimPanel.open(panelPty.b, { heartbeatMs: 1000 });
    try {
      // As the panel's firmware does after boot: the gateway answers with its HELLO and the whole state.
      panel.send({ verb: 'HELLO', proto: 1, model: 'SIM-1', firmware: '0.0.1' });
      await waitFor(() => panel.last('ST')?.state === 'IDLE', 'the panel showing IDLE', 5000);
      expect(sim.level(LAMP)).toBe(false);
      expect(await panel.command((id) => ({ verb: 'MAT', id, matter: '查封扣押' }))).toMatchObject({ verb: 'OK' });
      expect(await panel.command((id) => ({ verb: 'CASE', id, caseRef: 'PANEL-2026-7' }))).toMatchObject({ verb: 'OK' });
      expect(await panel.command((id) => ({ verb: 'OFC', id, slot: 1, badge: '13010001', name: '张三' }))).toMatchObject({ verb: 'OK' });
      expect(await panel.command((id) => ({ verb: 'OFC', id, slot: 2, badge: '13010002', name: '李四' }))).toMatchObject({ verb: 'OK' });
      expect(await panel.command((id) => ({ verb: 'START', id, force: false }), 15_000)).toMatchObject({ verb: 'OK' });
      await waitFor(() => panel.last('ST')?.state === 'REC', 'REC on the panel', 5000);
      await waitFor(() => sim.level(LAMP), 'the lamp on', 2000);
      // 亮证: the officers showed their credentials, and say so on the panel.
      expect(await panel.command((id) => ({ verb: 'CRED', id }))).toMatchObject({ verb: 'OK' });
      const st = await gw.recorderInterface.status();
      expect(st.battery).toMatchObject({ percent: 87, onMains: true });
      await sleep(3000);
      expect(await panel.command((id) => ({ verb: 'PAUSE', id, reason: 'obstruction' }))).toMatchObject({ verb: 'OK' });
      await waitFor(() => panel.last('ST')?.state === 'PAUSED', 'PAUSED on the panel', 5000);
      await sleep(1500);
      expect(await panel.command((id) => ({ verb: 'RESUME', id }), 15_000)).toMatchObject({ verb: 'OK' });
      await waitFor(() => panel.received.some((m) => m.verb === 'PRM' && m.text.includes('请口述中断原因')), 'the spoken-reason prompt', 5000);
      await sleep(3000);
      expect(await panel.command((id) => ({ verb: 'STOP', id }), 15_000)).toMatchObject({ verb: 'OK' });
      await waitFor(() => panel.last('ST')?.state === 'IDLE', 'IDLE after the stop', 5000);
      await waitFor(() => !sim.level(LAMP), 'the lamp off', 2000);
      // The simulated microphone plays a tone: no spoken reason was heard, and the panel asks for the statement.
      await waitFor(() => panel.received.some((m) => m.verb === 'PRM' && m.code === 'statement-needed'), 'the statement prompt', 5000);
      const officers = [
        { name: '张三', badge: '13010001' },
        { name: '李四', badge: '13010002' },
      ];
      await gw.recorderInterface.statement('恢复录制后未口述中断原因，现书面说明。', officers);
    } finally {
      await panel.close();
      await ups.close();
      await gw.stop();
    }
    const out = tmp();
    exportDevice(p.configPath, out);
    const report = await verify(out, ca.paths.caCert);
    expect(report.findings).toEqual([]);
    const dev = join(out, p.config.deviceId);
    const es = entries(dev);
    expect(es.find((e) => e.type === 'session.opened')?.body).toMatchObject({
      matter: 'seizure',
      caseRef: 'PANEL-2026-7',
      officers: [
        { name: '张三', badge: '13010001' },
        { name: '李四', badge: '13010002' },
      ],
    });
    expect(es.find((e) => e.type === 'interruption.started')?.body).toMatchObject({ reason: 'obstruction', origin: 'declared' });
    expect(es.find((e) => e.type === 'credentials.shown')?.body).toMatchObject({ via: 'panel', officers: [{ badge: '13010001' }, { badge: '13010002' }] });
    expect(es.find((e) => e.type === 'explanation.missing')?.body).toMatchObject({ resumed: ['declared'], why: 'session-closed' });
    expect(manifests(dev).some((m) => m.explanation)).toBe(true);
    expect(report.devices[0]!.sessions[0]!.gaps.every((g) => g.explained)).toBe(true);
  }, 90_000);
});
