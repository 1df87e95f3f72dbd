/**
 * The composition root of the gateway service: builds every part from the validated config and passes each its
 * dependencies. Constructors assign; start() works (in order); stop() undoes (in reverse order, each step on its
 * own so one failure does not leave the rest running).
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { diffConfig } from '../config/diff.js';
import { startEvidenceCore, type EvidenceCore } from './evidence-core.js';
import { kvGet, kvSet } from '../state/db.js';
import { ENTRY } from '../evidence/types.js';
import { SessionStore } from '../recorder/session-store.js';
import { SourceSupervisor } from '../recorder/supervisor.js';
import { Recorder, type BatteryMonitor, type GpsProvider } from '../recorder/recorder.js';
import { StorageGuard } from '../recorder/storage-guard.js';
import { ControlServer } from '../control/server.js';
import { ClockStepWatch, createClockMonitor, type ClockMonitor, type ClockStep } from '../hal/clock.js';
import { GpsdClient, type GpsdStatus } from '../hal/gps/gpsd-client.js';
import { fixTimeTolerance } from '../hal/gps/fix-time.js';
import { HomeBaseWatcher } from '../hal/gps/home-base.js';
import { SerialDevices } from './serial-devices.js';
import { OnvifCameras } from './onvif-cameras.js';
import { ConsoleServer } from '../console/server.js';
import { consoleDeps } from '../console/gateway-deps.js';
import { AlsaAnnouncer } from '../hal/announcer.js';
import type { CaptureSource, SegmentFile } from '../hal/capture.js';
import { createCaptureSource, longestGopSeconds, openOverlay, recoverSourceRuns } from '../hal/sources.js';
import { labelText } from '../hal/ffmpeg/overlay.js';
import type { Logger } from '../util/log.js';
import { buildUplink, type Uplink } from '../uplink/build.js';
import { openGpio, type GpioBackend, type SimGpioBackend } from '../hal/gpio/index.js';
import { startIndicators, type Indicators } from '../indicators/index.js';
import type { UploadQueue } from '../uplink/queue.js';
import { identityPaths } from '../pki/identity.js';
import type { HeldLock } from '../state/folder-lock.js';
import { lockStateFolder } from './state-lock.js';
import { startOrUndo } from '../util/lifecycle.js';
import { VERSION } from '../version.js';

export interface GatewayOptions {
  now?: () => number;
  /** The simulated GPIO backend to use when the config says `gpio.backend: "sim"` (tests drive its pins). */
  simGpio?: SimGpioBackend;
  clock?: ClockMonitor;
  battery?: BatteryMonitor;
  gps?: GpsProvider;
  /** The state folder's lock when the caller took it first (`recgw run`, before loading these modules); released at stop. */
  lock?: HeldLock;
}

export class Gateway {
  private lock: HeldLock | undefined;
  private core: EvidenceCore | undefined;
  private recorder: Recorder | undefined;
  private control: ControlServer | undefined;
  private clock: ClockMonitor | undefined;
  private uplink: Uplink | undefined;
  private gpio: GpioBackend | undefined;
  private gps: GpsdClient | undefined;
  private steps: ClockStepWatch | undefined;
  private home: HomeBaseWatcher | undefined;
  private serialDevices: SerialDevices | undefined;
  private cameras: OnvifCameras | undefined;
  private console: ConsoleServer | undefined;
  private indicators: Indicators | undefined;
  /** Keys changed in the file since the start that only take effect after a restart (status shows them). */
  private restartPending: string[] = [];

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly opts: GatewayOptions = {},
  ) {}

  get recorderInterface(): Recorder {
    if (!this.recorder) throw new Error('the gateway is not started');
    return this.recorder;
  }

  /** The upload queue, when an uplink is configured (status, the demo waiting for receipts). */
  get uplinkQueue(): UploadQueue | undefined {
    return this.uplink?.queue;
  }

  get evidence(): EvidenceCore {
    if (!this.core) throw new Error('the gateway is not started');
    return this.core;
  }

  /** Start every part in order; when one fails, stop what started (so nothing keeps the process alive) and rethrow. */
  async start(): Promise<void> {
    await startOrUndo(() => this.startParts(), () => this.stop());
  }

  private async startParts(): Promise<void> {
    const { config, log } = this;
    const now = this.opts.now ?? Date.now;
    // Before anything reads or writes the state folder: a second gateway on it would take over the first's session.
    this.lock = this.opts.lock ?? lockStateFolder(config.stateDir);
    const core = await startEvidenceCore(config, log, () => new Date(now()));
    this.core = core;
    const unclean = kvGet(core.db, 'service.running') === '1';
    kvSet(core.db, 'service.running', '1');
    core.ledger.append(ENTRY.serviceStarted, { version: VERSION, previousStop: unclean ? 'unclean' : 'clean', config: config.file });

    if (config.gps) {
      this.gps = new GpsdClient({ address: config.gps.gpsd, log: log.child('gps'), fixTimeToleranceMs: fixTimeTolerance(config.gps, config.time) });
      this.gps.start();
    }
    this.clock = this.opts.clock ?? createClockMonitor(config.time, { log: log.child('clock'), ...(this.gps ? { gps: this.gps } : {}) });
    await this.clock.start();

    // Hardware that is configured but missing fails the start here, before anything records.
    if (config.gpio) this.gpio = await openGpio(config.gpio, { log: log.child('gpio'), ...(this.opts.simGpio ? { sim: this.opts.simGpio } : {}) });

    const serial = new SerialDevices(config, log.child('serial'));
    this.serialDevices = serial;
    serial.startDevices();
    // IP cameras' clocks, GOPs and overlays are set in the background: recording does not wait for ONVIF.
    const cameras = new OnvifCameras({ sources: config.recording.sources, deviceId: config.deviceId, segmentSeconds: config.recording.segmentSeconds, log: log.child('onvif'), now });
    this.cameras = cameras;
    cameras.start();

    const overlay = openOverlay(config.recording.overlay, core.dirs.spool);
    overlay?.label.set(labelText(config.deviceId));
    const sources: CaptureSource[] = config.recording.sources.map((s) =>
      createCaptureSource(s, {
        spoolDir: core.dirs.spool,
        segmentSeconds: config.recording.segmentSeconds,
        log: log.child(`source.${s.id}`),
        ...(overlay ? { overlay: overlay.files } : {}),
        ...(config.recording.detectors ? { detectors: config.recording.detectors } : {}),
      }),
    );
    const supervisors = sources.map(
      (source) =>
        new SourceSupervisor({
          source,
          segmentSeconds: config.recording.segmentSeconds,
          longestGopSeconds: longestGopSeconds(config.recording.sources.find((c) => c.id === source.id)!),
          recover: () => recoverSourceRuns(core.dirs.spool, source.id, log.child(`source.${source.id}`)),
          log: log.child(`supervisor.${source.id}`),
        }),
    );
    const storage = new StorageGuard({
      db: core.db,
      stateDir: config.stateDir,
      spoolDir: core.dirs.spool,
      quotaBytes: config.recording.storageQuotaMB ? config.recording.storageQuotaMB * 1e6 : null,
      reserveBytes: 64e6,
      log: log.child('storage'),
    });
    this.recorder = new Recorder({
      deviceId: config.deviceId,
      ...(config.place ? { place: config.place } : {}),
      recording: config.recording,
      db: core.db,
      ledger: core.ledger,
      sealer: core.sealer,
      store: new SessionStore(core.db, core.ledger),
      supervisors,
      recoverAll: async () => {
        const all: SegmentFile[] = [];
        for (const s of sources) all.push(...(await recoverSourceRuns(core.dirs.spool, s.id, log.child(`source.${s.id}`))));
        return all;
      },
      storage,
      clock: this.clock,
      ...(this.opts.battery ? { battery: this.opts.battery } : serial.ups ? { battery: serial.ups } : {}),
      extraChecks: [...serial.checks(), ...cameras.checks()],
      ...(this.opts.gps ? { gps: this.opts.gps } : this.gps ? { gps: this.gps } : {}),
      ...(config.recording.speakerDevice ? { announcer: new AlsaAnnouncer(config.recording.speakerDevice) } : {}),
      uncleanStart: unclean,
      log: log.child('recorder'),
      now,
    });
    // The picture shows the case while a session is open.
    if (overlay) {
      this.recorder.on('changed', (st) => {
        const open = st.session && st.session.state !== 'closed' ? st.session.caseRef : undefined;
        try {
          overlay.label.set(labelText(config.deviceId, open));
        } catch (err) {
          log.warn('could not update the picture overlay label', { err: String(err) });
        }
      });
    }
    await this.recorder.start();
    const recorder = this.recorder;
    serial.startPanel(recorder);
    this.steps = new ClockStepWatch({ thresholdMs: config.time.stepThresholdMs, log: log.child('clock') });
    this.steps.on('step', (st: ClockStep) => void recorder.clockStepped(st).catch((err: unknown) => log.error('recording a clock step failed', { err: String(err) })));
    this.steps.start();
    if (config.gpio && this.gpio) {
      this.indicators = await startIndicators({ config: config.gpio, backend: this.gpio, recorder, markEvent: (m) => recorder.markEvent(m), log: log.child('indicators') });
    }
    if (config.uplink) {
      const id = identityPaths(config.stateDir);
      this.uplink = buildUplink({
        deviceId: config.deviceId,
        vehicle: config.installation === 'vehicle',
        awaySignal: config.gps?.homeBase ? 'geofence' : 'coverage',
        config: config.uplink,
        db: core.db,
        ledger: core.ledger,
        tls: { key: readFileSync(id.key, 'utf8'), cert: readFileSync(id.cert, 'utf8'), caFile: config.agency.caCert },
        now,
        log: log.child('uplink'),
      });
      this.uplink.start();
      const uploader = this.uplink.uploader;
      if (this.gps && config.gps?.homeBase && config.installation === 'vehicle') {
        this.home = new HomeBaseWatcher(this.gps, config.gps.homeBase, { log: log.child('geofence') });
        this.home.on('left', (ev: { at: Date | number | string }) => uploader.left(new Date(ev.at).getTime()));
        this.home.on('entered', (ev: { at: Date | number | string }) => uploader.returnedToBase(new Date(ev.at).getTime()));
        this.home.start();
      }
    } else {
      log.warn('no uplink configured: recordings stay on this gateway until one is (set "uplink" in the config)');
    }
    this.control = new ControlServer(config.control.socket, this.recorder, log.child('control'), () => this.extraStatus());
    await this.control.start();
    if (config.console) {
      const uplink = this.uplink;
      this.console = new ConsoleServer(
        consoleDeps({
          config,
          settings: config.console,
          core,
          recorder,
          status: () => this.status(),
          ...(uplink ? { queue: uplink.queue, uplinkConnected: () => (uplink.uploader.localStatus() as { connected?: boolean }).connected === true } : {}),
          log: log.child('console'),
          now,
          onConfigApplied: () => this.configApplied(),
        }),
      );
      await this.console.start();
    }
    log.info('gateway ready', { deviceId: config.deviceId, sources: sources.length, socket: config.control.socket, previousStop: unclean ? 'unclean' : 'clean' });
  }

  /**
   * The config file changed (the console wrote it): read it again and apply what may change while running (the
   * schema's keys without `x-restart`: place, pre-flight limits, upload deadlines, alarms, retention, chunk size,
   * bandwidth cap, timeouts). Keys that need a restart are kept as pending until then; the status names them.
   * A file that no longer loads changes nothing and is reported (the next start would refuse it too).
   */
  configApplied(): { live: string[]; restartPending: string[] } {
    const next = loadConfig(this.config.file);
    const changes = diffConfig(this.config, next);
    this.recorder?.reconfigure(next);
    if (next.uplink) this.uplink?.uploader.reconfigure(next.uplink);
    const live = changes.filter((c) => !c.restart).map((c) => c.key);
    this.restartPending = changes.filter((c) => c.restart).map((c) => c.key);
    this.log.info('config re-read', { live, restartPending: this.restartPending });
    return { live, restartPending: this.restartPending };
  }

  /** The whole status: the recorder's and the gateway's own (what the console shows). */
  async status(): Promise<Awaited<ReturnType<Recorder['status']>> & Record<string, unknown>> {
    return { ...(await this.recorderInterface.status()), ...this.extraStatus() };
  }

  /** The gpsd client's status (connection, fix, fixes refused for their time), when a GPS is configured. */
  gpsdStatus(): GpsdStatus | undefined {
    return this.gps?.status();
  }

  /** The gateway's state beside the recorder's, for `recgw status` and the console. */
  private extraStatus(): Record<string, unknown> {
    return {
      ...(this.restartPending.length ? { config: { restartPending: this.restartPending } } : {}),
      ...(this.uplink ? { uplink: this.uplink.uploader.localStatus() } : {}),
      ...(this.serialDevices?.status() ?? {}),
      ...(this.gps ? { gpsd: this.gps.status() } : {}),
      ...(this.cameras?.count ? { onvif: this.cameras.status() } : {}),
    };
  }

  /** Clean stop: finish and seal open segments, record the stop, close the database. */
  async stop(): Promise<void> {
    const failed: string[] = [];
    const step = async (name: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        failed.push(name);
        this.log.error(`stopping ${name} failed`, { err });
      }
    };
    await step('console', () => this.console?.stop());
    await step('control socket', () => this.control?.stop());
    await step('indicators', () => this.indicators?.stop());
    await step('serial devices', () => this.serialDevices?.stop());
    await step('recorder', () => this.recorder?.stop());
    await step('gpio', () => this.gpio?.close());
    await step('uplink', () => this.uplink?.stop());
    await step('clock', () => this.clock?.stop());
    await step('clock steps', () => this.steps?.stop());
    await step('home base', () => this.home?.stop());
    await step('gps', () => this.gps?.stop());
    await step('ledger', () => {
      if (!this.core) return;
      // Clean means every part stopped as it should; a part that failed is named, so the record does not overstate.
      this.core.ledger.append(ENTRY.serviceStopped, failed.length === 0 ? { clean: true } : { clean: false, failed });
      kvSet(this.core.db, 'service.running', '0');
    });
    await step('evidence core', () => this.core?.stop());
    await step('state folder lock', () => this.lock?.release());
    this.lock = undefined;
  }
}

export const spoolDirOf = (stateDir: string): string => join(stateDir, 'spool');
