/**
 * The serial devices of an installation (config "serial"), assembled for the composition root: the UPS feeds the
 * recorder's battery and pre-flight, PTZ cameras recall presets at session start and report power in pre-flight,
 * and the room control panel acts through the same recorder interface as the CLI.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import type { Recorder } from '../recorder/recorder.js';
import type { CheckResult } from '../recorder/preflight.js';
import { LinePort } from '../hal/serial/line-port.js';
import { UpsMonitor } from '../hal/serial/ups.js';
import { PtzGroup } from '../hal/serial/visca.js';
import { Panel, type PinCheck } from '../panel/panel.js';
import { VERSION } from '../version.js';

/** Heartbeats: the panel sends one every 2 s, the UPS a reading every few seconds; silence this long is unplugged. */
const PANEL_SILENCE_MS = 7000;
const UPS_SILENCE_MS = 15_000;

export class SerialDevices {
  readonly ups: UpsMonitor | undefined;
  private readonly upsPort: LinePort | undefined;
  private readonly ptz: PtzGroup | undefined;
  private panel: Panel | undefined;
  private panelPort: LinePort | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    const s = config.serial;
    if (s?.ups) {
      this.upsPort = new LinePort({ ...s.ups, silenceMs: UPS_SILENCE_MS, log: log.child('ups') });
      this.ups = new UpsMonitor(this.upsPort, { thresholdPercent: config.recording.minBatteryPercent, log: log.child('ups') });
    }
    if (s?.ptz?.length) this.ptz = new PtzGroup(s.ptz, { log: log.child('ptz') });
  }

  /** Pre-flight checks for the recorder: the UPS answering, each PTZ camera powered. */
  checks(): (() => Promise<CheckResult>)[] {
    const out: (() => Promise<CheckResult>)[] = [];
    const ups = this.ups;
    if (ups) out.push(() => Promise.resolve({ check: 'ups', ...ups.preflightCheck() }));
    const ptz = this.ptz;
    if (ptz) out.push(async () => ({ check: 'ptz', ...(await ptz.preflightCheck()) }));
    return out;
  }

  /** Before the recorder: the devices it asks. */
  startDevices(): void {
    this.upsPort?.start();
    this.ups?.start();
    this.ups?.on('risk', (r) => {
      this.log.warn('battery running low: recording will be interrupted unless mains power returns', { ...r });
      this.panel?.alert('battery', r.zh);
    });
    this.ptz?.start();
  }

  /** After the recorder: what acts on it or follows it. */
  startPanel(recorder: Recorder, pins?: PinCheck): void {
    const ptz = this.ptz;
    if (ptz) {
      const follow = (st: Parameters<PtzGroup['onRecorderStatus']>[0]): void => ptz.onRecorderStatus(st);
      recorder.on('changed', follow);
      this.unsubscribe = () => recorder.off('changed', follow);
    }
    const p = this.config.serial?.panel;
    if (!p) return;
    this.panelPort = new LinePort({ ...p, silenceMs: PANEL_SILENCE_MS, log: this.log.child('panel') });
    this.panel = new Panel(recorder, this.panelPort, { deviceId: this.config.deviceId, version: VERSION, log: this.log.child('panel'), ...(pins ? { pins } : {}) });
    this.panelPort.start();
    this.panel.start();
  }

  status(): Record<string, unknown> {
    return {
      ...(this.panelPort ? { panel: { port: this.panelPort.state(), ...this.panel?.status() } } : {}),
      ...(this.upsPort ? { ups: { port: this.upsPort.state(), ...this.ups?.status() } } : {}),
      ...(this.ptz ? { ptz: this.ptz.status() } : {}),
    };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.panel?.stop();
    await this.panelPort?.stop();
    this.ups?.stop();
    await this.upsPort?.stop();
    await this.ptz?.stop();
  }
}
