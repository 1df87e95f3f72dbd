/**
 * The installation's IP cameras that have an ONVIF service configured (`onvif` on an rtsp source), for the
 * composition root: at start each camera gets the gateway's clock, its GOP (when `gopSeconds` is set) and the
 * gateway's overlay (date and time, device ID) where it offers one; pre-flight reads GOP and clock again. All of
 * it in the background and on short timeouts: a camera whose ONVIF fails is logged and warned about, and still
 * recorded over RTSP.
 */
import type { OnvifSourceConfig, SourceConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import type { CheckResult } from '../recorder/preflight.js';
import { cameraSettingsCheck, MAX_CAMERA_CLOCK_OFFSET_MS, type CameraReading } from '../recorder/camera-check.js';
import { OnvifCamera, type StreamProfile } from '../hal/onvif/camera.js';

/** Pre-flight waits at most this long for all cameras together. */
const CHECK_TIMEOUT_MS = 8000;

export interface CameraState {
  url: string;
  profile?: string;
  rtspUri?: string;
  gopSeconds?: number;
  clockOffsetMs?: number;
  clockSetAt?: string;
  /** set: the camera shows the gateway's date, time and text; unsupported: it offers no OSD; off: not wanted. */
  overlay?: 'set' | 'unsupported' | 'off' | 'failed';
  error?: string;
}

interface Entry {
  id: string;
  source: SourceConfig;
  onvif: OnvifSourceConfig;
  cam: OnvifCamera;
  profile: StreamProfile | undefined;
  state: CameraState;
}

/** The device service of a source: configured, or the usual path on the rtsp URL's host. */
export function onvifUrl(s: SourceConfig): string | undefined {
  if (s.onvif?.url) return s.onvif.url;
  if (!s.url) return undefined;
  try {
    return `http://${new URL(s.url).host.replace(/:\d+$/, '')}/onvif/device_service`;
  } catch {
    return undefined;
  }
}

/** The RTSP path and query, which name a stream whatever the host or login in front of them. */
const streamKey = (uri: string | undefined): string | undefined => {
  if (!uri) return undefined;
  try {
    const u = new URL(uri);
    return u.pathname + u.search;
  } catch {
    return undefined;
  }
};

export class OnvifCameras {
  private readonly entries: Entry[];
  private ready: Promise<void> = Promise.resolve();

  constructor(private readonly o: { sources: SourceConfig[]; deviceId: string; segmentSeconds: number; log: Logger; timeoutMs?: number; now?: () => number }) {
    this.entries = o.sources.flatMap((source) => {
      const url = source.driver === 'rtsp' && source.onvif ? onvifUrl(source) : undefined;
      if (!url || !source.onvif) return [];
      const cam = new OnvifCamera({ url, user: source.onvif.user, password: source.onvif.password, timeoutMs: o.timeoutMs ?? 5000 });
      return [{ id: source.id, source, onvif: source.onvif, cam, profile: undefined, state: { url } }];
    });
  }

  get count(): number {
    return this.entries.length;
  }

  /** Prepare every camera in the background (the gateway does not wait for cameras to answer). */
  start(): void {
    this.ready = Promise.all(this.entries.map((e) => this.prepare(e))).then(() => undefined);
  }

  /** Resolves when the start's work on every camera is done (or failed). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private log(e: Entry): Logger {
    return this.o.log.child(e.id);
  }

  /** Which of the camera's profiles is the stream recorded: the one whose RTSP URI is the source's, else the first. */
  private async findProfile(e: Entry): Promise<StreamProfile | undefined> {
    const profiles = await e.cam.profiles();
    const want = streamKey(e.source.url);
    const match = profiles.find((p) => want !== undefined && streamKey(p.rtspUri) === want);
    if (!match && profiles.length) this.log(e).warn("the camera has no ONVIF profile with this source's RTSP URL; its first profile's settings are used", { url: e.source.url, profiles: profiles.map((p) => p.rtspUri) });
    return match ?? profiles.find((p) => p.encoder) ?? profiles[0];
  }

  private async prepare(e: Entry): Promise<void> {
    const log = this.log(e);
    try {
      const info = await e.cam.info();
      e.profile = await this.findProfile(e);
      e.state.profile = e.profile?.name;
      e.state.rtspUri = e.profile?.rtspUri;
      e.state.gopSeconds = e.profile?.encoder?.gopSeconds;
      log.info('ONVIF camera found', { maker: info.maker, model: info.model, firmware: info.firmware, profile: e.profile?.name, gopSeconds: e.state.gopSeconds });
    } catch (err) {
      e.state.error = String((err as Error).message ?? err);
      log.warn('the camera\'s ONVIF service does not answer: its clock, GOP and overlay are not set (recording over RTSP goes on)', { url: e.state.url, err: e.state.error });
      return;
    }
    if (e.onvif.setClock) await this.syncClock(e, 'start');
    const enc = e.profile?.encoder;
    if (e.onvif.gopSeconds !== undefined && enc) {
      try {
        const after = await e.cam.setGop(enc.token, e.onvif.gopSeconds);
        e.state.gopSeconds = after.gopSeconds;
        log.info('camera GOP set', { govLength: after.govLength, fps: after.fps, gopSeconds: after.gopSeconds });
      } catch (err) {
        log.warn('setting the camera\'s GOP failed', { err: (err as Error).message });
      }
    }
    await this.overlay(e);
  }

  private async syncClock(e: Entry, why: 'start' | 'preflight'): Promise<boolean> {
    try {
      const r = await e.cam.setClock({ timeZone: e.onvif.timeZone, ...(this.o.now ? { now: this.o.now } : {}) });
      e.state.clockOffsetMs = r.offsetMs;
      e.state.clockSetAt = new Date((this.o.now ?? Date.now)()).toISOString();
      this.log(e).info('camera clock set from the gateway\'s', { why, timeZone: e.onvif.timeZone, offsetAfterMs: r.offsetMs });
      return true;
    } catch (err) {
      this.log(e).warn('setting the camera\'s clock failed: the time on its picture may not match the evidence', { err: (err as Error).message });
      return false;
    }
  }

  /** The camera's own overlay: date and time top left, the device ID (or overlayText) bottom left. */
  private async overlay(e: Entry): Promise<void> {
    const log = this.log(e);
    if (!e.onvif.overlay) {
      e.state.overlay = 'off';
      return;
    }
    const vsc = e.profile?.videoSourceConfigToken;
    try {
      const osds = vsc ? await e.cam.osds(vsc) : undefined;
      if (!vsc || osds === undefined) {
        e.state.overlay = 'unsupported';
        log.warn('the camera offers no on-screen display (OSD) through ONVIF: its picture carries no time or device ID from the gateway; set them in the camera\'s own web page', { url: e.state.url });
        return;
      }
      const text = e.onvif.overlayText ?? this.o.deviceId;
      if (!osds.some((x) => x.kind === 'DateAndTime')) await e.cam.putOsd({ videoSourceConfigToken: vsc, position: 'UpperLeft', kind: 'DateAndTime' });
      const plain = osds.find((x) => x.kind === 'Plain');
      if (!plain) await e.cam.putOsd({ videoSourceConfigToken: vsc, position: 'LowerLeft', kind: 'Plain', text });
      else if (plain.text !== text) {
        const pos = plain.position === 'UpperLeft' || plain.position === 'UpperRight' || plain.position === 'LowerRight' ? plain.position : 'LowerLeft';
        await e.cam.putOsd({ token: plain.token, videoSourceConfigToken: vsc, position: pos, kind: 'Plain', text });
      }
      e.state.overlay = 'set';
      log.info('camera overlay set: date and time, and text', { text });
    } catch (err) {
      e.state.overlay = 'failed';
      log.warn('setting the camera\'s overlay failed', { err: (err as Error).message });
    }
  }

  /** Read one camera's GOP and clock now; a clock too far off is set again when setClock is on. */
  private async read(e: Entry): Promise<CameraReading> {
    try {
      if (!e.profile) e.profile = await this.findProfile(e);
      const enc = e.profile?.encoder ? await e.cam.encoder(e.profile.encoder.token) : undefined;
      const clock = await e.cam.clock(this.o.now);
      e.state.gopSeconds = enc?.gopSeconds;
      e.state.clockOffsetMs = clock.offsetMs;
      e.state.error = undefined;
      const off = Math.abs(clock.offsetMs) > MAX_CAMERA_CLOCK_OFFSET_MS;
      const set = off && e.onvif.setClock ? await this.syncClock(e, 'preflight') : false;
      return { id: e.id, ...(enc?.gopSeconds !== undefined ? { gopSeconds: enc.gopSeconds } : {}), clockOffsetMs: clock.offsetMs, ...(set ? { clockSet: true } : {}) };
    } catch (err) {
      e.state.error = (err as Error).message;
      return { id: e.id, error: e.state.error };
    }
  }

  /** The pre-flight check of all cameras (none when no camera has ONVIF). */
  checks(): (() => Promise<CheckResult>)[] {
    if (this.entries.length === 0) return [];
    return [
      async () => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<CameraReading[]>((resolve) => {
          timer = setTimeout(() => resolve(this.entries.map((e) => ({ id: e.id, error: `no answer within ${CHECK_TIMEOUT_MS / 1000} s` }))), CHECK_TIMEOUT_MS);
        });
        const readings = await Promise.race([Promise.all(this.entries.map((e) => this.read(e))), late]);
        clearTimeout(timer);
        return cameraSettingsCheck(readings, this.o.segmentSeconds);
      },
    ];
  }

  /** For `recgw status` and the console: what each camera's ONVIF said last. */
  status(): Record<string, CameraState> {
    return Object.fromEntries(this.entries.map((e) => [e.id, { ...e.state }]));
  }
}
