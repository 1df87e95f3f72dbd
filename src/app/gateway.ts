/**
 * The composition root of the gateway service: builds every part from the validated config and passes each its
 * dependencies. Constructors assign; start() works (in order); stop() undoes (in reverse order, each step on its
 * own so one failure does not leave the rest running).
 */
import { join } from 'node:path';
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
import { ClockStepWatch, Timeline, createClockMonitor, type ClockMonitor } from '../hal/clock.js';
import { ClockKeeper } from './clock-keeper.js';
import { GpsdClient, type GpsdStatus } from '../hal/gps/gpsd-client.js';
import { fixTimeTolerance } from '../hal/gps/fix-time.js';
import { HomeBaseWatcher } from '../hal/gps/home-base.js';
import type { SerialDevices } from './serial-devices.js';
import type { PowerWatch } from './power.js';
import { OnvifCameras } from './onvif-cameras.js';
import type { ConsoleServer } from '../console/server.js';
import { AlsaAnnouncer } from '../hal/announcer.js';
import type { CaptureSource, SegmentFile } from '../hal/capture.js';
import { createCaptureSource, longestGopSeconds, openOverlay, recoverSourceRuns } from '../hal/sources.js';
import { labelText } from '../hal/ffmpeg/overlay.js';
import type { Logger } from '../util/log.js';
import type { Uplink } from '../uplink/build.js';
import { openGpio, type GpioBackend, type SimGpioBackend } from '../hal/gpio/index.js';
import { startIndicators, type Indicators } from '../indicators/index.js';
import type { UploadQueue } from '../uplink/queue.js';
import { identityPaths, uplinkTls } from '../pki/identity.js';
import type { HeldLock } from '../state/folder-lock.js';
import { lockStateFolder } from './state-lock.js';
import { startOrUndo } from '../util/lifecycle.js';
import { VERSION } from '../version.js';
import { loadAgencyRoster } from '../config/agency-files.js';
import { OfficerAuth } from '../officers/auth.js';
import { lastInstalledRoster, recordRoster } from '../officers/installed.js';
import type { InstalledRoster } from '../officers/roster.js';

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
  private auth: OfficerAuth | undefined;
  private recorder: Recorder | undefined;
  private control: ControlServer | undefined;
  private clock: ClockMonitor | undefined;
  private uplink: Uplink | undefined;
  private gpio: GpioBackend | undefined;
  private gps: GpsdClient | undefined;
  private keeper: ClockKeeper | undefined;
  private home: HomeBaseWatcher | undefined;
  private serialDevices: SerialDevices | undefined;
  private power: PowerWatch | undefined;
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

  /** Officers' PIN confirmations, when a roster is (or was) installed: the console confirms officers through it. */
  get officerAuthInterface(): OfficerAuth | undefined {
    return this.auth;
  }

  /** The upload queue, when an uplink is configured (status, the demo waiting for receipts). */
  get uplinkQueue(): UploadQueue | undefined {
    return this.uplink?.queue;
  }

  get evidence(): EvidenceCore {
    if (!this.core) throw new Error('the gateway is not started');
    return this.core;
  }

  /**
   * Officers' PIN confirmations: with a roster (recorded in the ledger when new), or without one when the ledger shows
   * one was used before (then every confirmation is refused with the fix); none at all on a gateway never given one.
   */
  private officerAuth(core: EvidenceCore, roster: InstalledRoster | undefined): OfficerAuth | undefined {
    const rosterInLedger = lastInstalledRoster(core.db) !== undefined;
    if (roster) {
      const e = recordRoster(core.ledger, core.db, roster);
      if (e) this.log.info('recorded the officer roster in the ledger', { seq: e.seq, roster: roster.sha256, officers: roster.roster.officers.length });
    } else if (rosterInLedger) {
      this.log.error('this gateway used an officer roster before, but the config names none: officers cannot confirm, so sessions cannot start; set agency.roster and restart');
    } else return undefined;
    return new OfficerAuth({ roster, rosterInLedger, ledger: core.ledger, log: this.log.child('officers'), ...(this.opts.now ? { now: this.opts.now } : {}) });
  }

  /** Start every part in order; when one fails, stop what started (so nothing keeps the process alive) and rethrow. */
  async start(): Promise<void> {
    await startOrUndo(() => this.startParts(), () => this.stop());
  }

  private async startParts(): Promise<void> {
    const { config, log } = this;
    // The gateway's own time: the system clock's at start, then the monotonic clock's count (clock-keeper.ts).
    const timeline = new Timeline();
    const now = this.opts.now ?? timeline.now;
    // Before anything reads or writes the state folder: a second gateway on it would take over the first's session.
    this.lock = this.opts.lock ?? lockStateFolder(config.stateDir);
    // The officer roster is checked before anything is written: a gateway refuses a roster the agency did not sign.
    const roster = loadAgencyRoster(config.file, config.agency, new Date(now()));
    const core = await startEvidenceCore(config, log, () => new Date(now()));
    this.core = core;
    const unclean = kvGet(core.db, 'service.running') === '1';
    kvSet(core.db, 'service.running', '1');
    core.ledger.append(ENTRY.serviceStarted, { version: VERSION, previousStop: unclean ? 'unclean' : 'clean', config: config.file });
    const auth = this.officerAuth(core, roster);
    this.auth = auth;

    if (config.gps) {
      this.gps = new GpsdClient({ address: config.gps.gpsd, log: log.child('gps'), fixTimeToleranceMs: fixTimeTolerance(config.gps, config.time) });
      this.gps.start();
    }
    this.clock = this.opts.clock ?? createClockMonitor(config.time, { log: log.child('clock'), ...(this.gps ? { gps: this.gps } : {}) });
    await this.clock.start();

    // Hardware that is configured but missing fails the start here, before anything records.
    if (config.gpio) this.gpio = await openGpio(config.gpio, { log: log.child('gpio'), ...(this.opts.simGpio ? { sim: this.opts.simGpio } : {}) });

    // Serial devices, the uplink and the console are loaded only when configured: each brings its own libraries
    // (serialport; mqtt; the console's), several MB of memory for a gateway that has none of them.
    const serial = config.serial ? new (await import('./serial-devices.js')).SerialDevices(config, log.child('serial')) : undefined;
    this.serialDevices = serial;
    serial?.startDevices();
    // Likewise the UPS (serialport for the line protocol, the NUT client).
    const power = config.serial?.ups || config.power?.nut ? new (await import('./power.js')).PowerWatch(config, log.child('ups'), (code, text) => serial?.alert(code, text)) : undefined;
    this.power = power;
    power?.start();
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
        timeline,
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
          now,
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
      heldMs: () => this.keeper?.heldMs(),
      ...(this.opts.battery ? { battery: this.opts.battery } : power?.ups ? { battery: power.ups } : {}),
      extraChecks: [...(power?.checks() ?? []), ...(serial?.checks() ?? []), ...cameras.checks()],
      ...(this.opts.gps ? { gps: this.opts.gps } : this.gps ? { gps: this.gps } : {}),
      ...(config.recording.speakerDevice ? { announcer: new AlsaAnnouncer(config.recording.speakerDevice) } : {}),
      ...(auth ? { auth } : {}),
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
    serial?.startPanel(recorder, auth);
    power?.attach(recorder);
    this.keeper = new ClockKeeper({
      timeline,
      monitor: this.clock,
      watch: new ClockStepWatch({ thresholdMs: config.time.stepThresholdMs, log: log.child('clock') }),
      recorder,
      thresholdMs: config.time.stepThresholdMs,
      log: log.child('clock'),
    });
    this.keeper.start();
    if (config.gpio && this.gpio) {
      this.indicators = await startIndicators({ config: config.gpio, backend: this.gpio, recorder, markEvent: (m) => recorder.markEvent(m), log: log.child('indicators') });
    }
    if (config.uplink) {
      const id = identityPaths(config.stateDir);
      const { buildUplink } = await import('../uplink/build.js');
      this.uplink = buildUplink({
        deviceId: config.deviceId,
        vehicle: config.installation === 'vehicle',
        awaySignal: config.gps?.homeBase ? 'geofence' : 'coverage',
        config: config.uplink,
        db: core.db,
        ledger: core.ledger,
        tls: uplinkTls(config.deviceId, id, config.agency, new Date(now())),
        agencyCaFile: config.agency.caCert,
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
    if (config.console) {
      const uplink = this.uplink;
      const [{ ConsoleServer }, { consoleDeps }] = await Promise.all([import('../console/server.js'), import('../console/gateway-deps.js')]);
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
          control: { auth },
        }),
      );
      await this.console.start();
    }
    // The control socket last: once `recgw status` answers, the console is up too.
    this.control = new ControlServer(config.control.socket, this.recorder, log.child('control'), () => this.extraStatus(), auth);
    await this.control.start();
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
      ...(this.power?.status() ?? {}),
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
    // Before the recorder: a clock step being recorded finishes first, and none starts while the session closes.
    await step('clock steps', () => this.keeper?.stop());
    await step('recorder', () => this.recorder?.stop());
    // After the recorder: a UPS that waits for our logout waits until the session is closed and sealed.
    await step('ups', () => this.power?.stop());
    await step('gpio', () => this.gpio?.close());
    await step('uplink', () => this.uplink?.stop());
    await step('clock', () => this.clock?.stop());
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
