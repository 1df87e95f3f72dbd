/**
 * The console's dependencies built from the gateway's parts, so the composition root wires the console in a few
 * lines and the tests use the very same wiring. Every view here reads states, events and queue rows only.
 */
import type { Config, ConsoleConfig } from '../config/types.js';
import type { EvidenceCore } from '../app/evidence-core.js';
import type { Recorder } from '../recorder/recorder.js';
import { SessionStore } from '../recorder/session-store.js';
import type { UploadQueue } from '../uplink/queue.js';
import { DeadlineAlarms } from '../uplink/alarms.js';
import { identityPaths } from '../pki/identity.js';
import type { Logger } from '../util/log.js';
import type { CameraFinder, ConsoleDeps, ConsoleStatus, InterruptionLog, LanInterface, SessionControl, UploadQueueView } from './deps.js';
import { confirmEach, type OfficerAuth } from '../officers/auth.js';
import { matterByCode } from '../evidence/vocabulary.js';
import { ledgerAccess } from './ledger-view.js';
import { identityEnrolment } from './enrolment.js';
import { FfmpegStillGrabber } from '../hal/ffmpeg/still.js';
import { describe as describeCameras, lanInterfaces, probe } from '../hal/onvif/discovery.js';

export function uploadQueueView(o: { queue: UploadQueue; alarms: DeadlineAlarms; connected: () => boolean }): UploadQueueView {
  return {
    summary: () => o.queue.summary(),
    items(limit) {
      // Segments sealed since the uploader last looked are queued now, so the list is current (sync is idempotent).
      o.queue.sync();
      return o.queue.nextFiles(limit).map((f) => ({ name: f.name, size: f.size, deadlineMs: f.deadlineMs }));
    },
    alarms: () => o.alarms.standing(),
    connected: o.connected,
  };
}

/** Finding cameras on the LAN interfaces (only those named in `only`, when given: tests keep to their own). */
export function cameraFinder(only?: string[]): CameraFinder {
  const interfaces = (): LanInterface[] => lanInterfaces().filter((i) => !only || only.includes(i.name));
  return {
    interfaces,
    find: async (o) => {
      const names = o.interface ? [o.interface] : [...new Set(interfaces().map((i) => i.name))];
      return describeCameras(await probe({ interfaces: names }), { ...(o.user ? { user: o.user, password: o.password ?? '' } : {}) });
    },
  };
}

export function interruptionLog(store: SessionStore): InterruptionLog {
  return {
    interruptions(limit) {
      const rows = store
        .recent(50)
        .flatMap((s) => store.allInterruptions(s.ctx.sessionId).map((i) => ({ sessionId: s.ctx.sessionId, caseRef: s.ctx.caseRef, ...i })));
      return rows.sort((a, b) => b.start.localeCompare(a.start)).slice(0, limit);
    },
  };
}

/** Session control through the recorder, officers confirming through the gateway's OfficerAuth (none: no roster, ever). */
export function sessionControl(recorder: Recorder, store: SessionStore, auth: OfficerAuth | undefined): SessionControl {
  return {
    recorder,
    pinsRequired: () => auth?.required() ?? false,
    confirm: (officers, channel) => confirmEach(auth, officers, 'console', channel),
    lacking: () =>
      store.lackingStatement().map((s) => ({
        sessionId: s.ctx.sessionId,
        caseRef: s.ctx.caseRef,
        matterLabel: matterByCode(s.ctx.matter)?.zh ?? s.ctx.matter,
        start: new Date(s.openedAt).toISOString(),
        end: s.closedAt === null ? null : new Date(s.closedAt).toISOString(),
        officers: s.ctx.officers,
        why: s.closedBy === 'terminated' ? 'terminated' : 'unexplained',
      })),
  };
}

export interface GatewayParts {
  config: Config;
  /** config.console (the console is built only when the config has it). */
  settings: ConsoleConfig;
  core: EvidenceCore;
  recorder: Recorder;
  /** The whole status as `recgw status` gives it (recorder status plus uplink, serial devices, gpsd). */
  status: () => Promise<ConsoleStatus>;
  queue?: UploadQueue;
  /** Whether the uplink's broker connection is up. */
  uplinkConnected?: () => boolean;
  log: Logger;
  now?: () => number;
  /** The gateway re-reads the config file the console wrote and applies its live keys. */
  onConfigApplied?: () => unknown;
  /** Present: the console controls sessions through `recorder`, officers confirming through this OfficerAuth (undefined: no roster). */
  control?: { auth: OfficerAuth | undefined };
}

export function consoleDeps(p: GatewayParts): ConsoleDeps {
  const { config, core, recorder } = p;
  const paths = identityPaths(config.stateDir);
  const store = new SessionStore(core.db, core.ledger);
  return {
    deviceId: config.deviceId,
    zone: config.time.zone,
    stateDir: config.stateDir,
    identity: { key: paths.key, cert: paths.cert },
    settings: p.settings,
    db: core.db,
    log: p.log,
    status: { status: p.status },
    preflight: { preflight: () => recorder.preflight() },
    ledger: ledgerAccess(core.db, core.ledger),
    interruptions: interruptionLog(store),
    config: { file: config.file, ...(p.onConfigApplied ? { onApplied: p.onConfigApplied } : {}) },
    enrolment: identityEnrolment({ deviceId: config.deviceId, paths, caCert: config.agency.caCert, ...(config.agency.transportCaCert ? { transportCaCert: config.agency.transportCaCert } : {}), ...(p.now ? { now: p.now } : {}) }),
    ...(p.queue && config.uplink
      ? {
          queue: uploadQueueView({
            queue: p.queue,
            alarms: new DeadlineAlarms(core.db, core.ledger, p.queue, config.uplink.alarmHoursBefore),
            connected: p.uplinkConnected ?? (() => false),
          }),
        }
      : {}),
    still: new FfmpegStillGrabber(config.recording.sources),
    cameras: cameraFinder(),
    ...(p.control ? { sessions: sessionControl(recorder, store, p.control.auth) } : {}),
    sessionOpen: async () => {
      const s = (await recorder.status()).session;
      return s !== null && s.state !== 'closed';
    },
    ...(p.now ? { now: p.now } : {}),
  };
}
