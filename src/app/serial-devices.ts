/**
 * The serial devices of an installation (config "serial"), assembled for the composition root: PTZ cameras recall
 * presets at session start and report power in pre-flight, and the room control panel acts through the same
 * recorder interface as the CLI and shows alarms. A serial UPS is the power watch's (power.ts).
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import type { Recorder } from '../recorder/recorder.js';
import type { CheckResult } from '../recorder/preflight.js';
import { LinePort } from '../hal/serial/line-port.js';
import { PtzGroup } from '../hal/serial/visca.js';
import { Panel, type PinCheck } from '../panel/panel.js';
import { VERSION } from '../version.js';

/** The panel sends a heartbeat every 2 s; silence this long is unplugged. */
const PANEL_SILENCE_MS = 7000;

export class SerialDevices {
  private readonly ptz: PtzGroup | undefined;
  private panel: Panel | undefined;
  private panelPort: LinePort | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    const s = config.serial;
    if (s?.ptz?.length) this.ptz = new PtzGroup(s.ptz, { log: log.child('ptz') });
  }

  /** Pre-flight checks for the recorder: each PTZ camera powered. */
  checks(): (() => Promise<CheckResult>)[] {
    const out: (() => Promise<CheckResult>)[] = [];
    const ptz = this.ptz;
    if (ptz) out.push(async () => ({ check: 'ptz', ...(await ptz.preflightCheck()) }));
    return out;
  }

  /** Before the recorder: the devices it asks. */
  startDevices(): void {
    this.ptz?.start();
  }

  /** Shows an alarm on the panel, when there is one (the UPS's warnings). */
  alert(code: string, text: string): void {
    this.panel?.alert(code, text);
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
    this.panel = new Panel(recorder, this.panelPort, {
      deviceId: this.config.deviceId,
      version: VERSION,
      zone: this.config.time.zone,
      log: this.log.child('panel'),
      ...(pins ? { pins } : {}),
    });
    this.panelPort.start();
    this.panel.start();
  }

  status(): Record<string, unknown> {
    return {
      ...(this.panelPort ? { panel: { port: this.panelPort.state(), ...this.panel?.status() } } : {}),
      ...(this.ptz ? { ptz: this.ptz.status() } : {}),
    };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.panel?.stop();
    await this.panelPort?.stop();
    await this.ptz?.stop();
  }
}
