/**
 * One IP camera's ONVIF device and media services, through the `onvif` package (Profile S, Media ver10): what it
 * is, its RTSP stream and encoder (GOP) per profile, its clock, and its on-screen overlay (OSD). Every call has a
 * short timeout: a camera whose ONVIF is down must never hold up recording, which only needs RTSP.
 */
// A CommonJS package: its named exports are read off the default one. Its callback API is used (its promise
// wrapper hides the camera's own properties behind a proxy and types away optional arguments).
// Loaded on first use (about 11 MB of the gateway's memory): most gateways have no ONVIF camera.
import type { Cam } from 'onvif';
import { RecgwError } from '../../util/errors.js';

export interface OnvifLogin {
  /** The device service URL, e.g. http://192.168.1.64/onvif/device_service. */
  url: string;
  user?: string;
  password?: string;
  timeoutMs?: number;
}

export interface DeviceInfo {
  maker: string;
  model: string;
  firmware: string;
  serial: string;
}

export interface EncoderSettings {
  token: string;
  encoding: string;
  width: number;
  height: number;
  /** FrameRateLimit: the frames a second the camera sends. */
  fps: number;
  /** GovLength: frames from one key frame to the next (absent for codecs without one, e.g. JPEG). */
  govLength: number | undefined;
  /** govLength / fps. */
  gopSeconds: number | undefined;
}

export interface StreamProfile {
  token: string;
  name: string;
  rtspUri: string | undefined;
  videoSourceConfigToken: string | undefined;
  encoder: EncoderSettings | undefined;
}

export interface ClockReading {
  /** The camera's clock, as it says (whole seconds). */
  camera: Date;
  /** Camera minus gateway, in ms, corrected for the whole-second reading: accurate to about ±0.5 s. */
  offsetMs: number;
}

export type OsdKind = 'DateAndTime' | 'Plain';
export type OsdPosition = 'UpperLeft' | 'UpperRight' | 'LowerLeft' | 'LowerRight';

export interface Osd {
  token: string;
  videoSourceConfigToken: string | undefined;
  kind: OsdKind | undefined;
  text: string | undefined;
  position: string | undefined;
}

/** What ONVIF calls answered, as numbers where they are numbers (the library turns "25" into 25). */
type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' ? (v as Rec) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null || v === '' ? [] : [v]);
const xmlEscape = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function parseEncoder(v: unknown): EncoderSettings | undefined {
  const e = rec(v);
  const token = str(rec(e.$).token);
  if (!token) return undefined;
  const res = rec(e.resolution);
  const rate = rec(e.rateControl);
  const fps = num(rate.frameRateLimit) ?? 0;
  const encoding = str(e.encoding) ?? '?';
  const govLength = num(rec(e.H264).govLength) ?? num(rec(e.MPEG4).govLength) ?? num(rec(e.$).GovLength);
  return {
    token,
    encoding,
    width: num(res.width) ?? 0,
    height: num(res.height) ?? 0,
    fps,
    govLength,
    gopSeconds: govLength !== undefined && fps > 0 ? govLength / fps : undefined,
  };
}

function problem(what: string, url: string, err: unknown): RecgwError {
  const detail = err instanceof Error ? err.message : String(err);
  const auth = /NotAuthorized|not authori[sz]ed|authentication failed|401/i.test(detail);
  return new RecgwError(
    'hardware',
    `ONVIF ${what} at ${url} failed: ${detail}${auth ? ' (check onvif.user and onvif.password)' : /ECONNREFUSED|EHOSTUNREACH|timeout/i.test(detail) ? ' (is the camera on and is onvif.url right?)' : ''}`,
    { cause: err },
  );
}

export class OnvifCamera {
  private cam: Cam | undefined;
  private connected = false;

  constructor(private readonly login: OnvifLogin) {
    const u = new URL(login.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RecgwError('config', `onvif.url ${login.url} must be an http:// or https:// URL`);
  }

  /** The package's camera object, made on first use. */
  private async camera(): Promise<Cam> {
    if (this.cam) return this.cam;
    const onvif = (await import('onvif')).default;
    const { login } = this;
    const u = new URL(login.url);
    this.cam = new onvif.Cam({
      autoconnect: false,
      hostname: u.hostname,
      port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80,
      path: u.pathname || '/onvif/device_service',
      useSecure: u.protocol === 'https:',
      ...(login.user ? { username: login.user, password: login.password ?? '' } : {}),
      timeout: login.timeoutMs ?? 5000,
      // Cameras often announce service addresses that are not the one we reach them at (NAT, a second network):
      // keep using the address configured.
      preserveAddress: true,
    });
    guardActiveSources(this.cam);
    return this.cam;
  }

  /** One call of the callback API as a promise of its first result. */
  private async invoke(name: string, ...args: unknown[]): Promise<unknown> {
    const cam = (await this.camera()) as unknown as Record<string, (...a: unknown[]) => void>;
    return new Promise((resolve, reject) =>
      cam[name]!.call(cam, ...args, (err: unknown, data: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(data))),
    );
  }

  private encoderConfig(token: string): Promise<unknown> {
    return this.invoke('getVideoEncoderConfiguration', token);
  }

  get url(): string {
    return this.login.url;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw problem(what, this.login.url, err);
    }
  }

  /** Learn the camera's services (and its clock, which WS-Security needs first); once. */
  async connect(): Promise<void> {
    if (this.connected) return;
    await this.call('connect', () => this.invoke('connect'));
    this.connected = true;
  }

  async info(): Promise<DeviceInfo> {
    await this.connect();
    const i = rec(await this.call('GetDeviceInformation', () => this.invoke('getDeviceInformation')));
    return { maker: str(i.manufacturer) ?? '', model: str(i.model) ?? '', firmware: str(i.firmwareVersion) ?? '', serial: str(i.serialNumber) ?? '' };
  }

  /** Every media profile with its RTSP URI (GetStreamUri) and its encoder settings (GetVideoEncoderConfiguration). */
  async profiles(): Promise<StreamProfile[]> {
    await this.connect();
    const raw = list(await this.call('GetProfiles', () => this.invoke('getProfiles')));
    const out: StreamProfile[] = [];
    for (const p of raw.map(rec)) {
      const token = str(rec(p.$).token);
      if (!token) continue;
      const uri = await this.call('GetStreamUri', () => this.invoke('getStreamUri', { protocol: 'RTSP', profileToken: token })).catch(() => undefined);
      const embedded = parseEncoder(p.videoEncoderConfiguration);
      const encoder = embedded
        ? parseEncoder(await this.call('GetVideoEncoderConfiguration', () => this.encoderConfig(embedded.token)).catch(() => p.videoEncoderConfiguration))
        : undefined;
      out.push({
        token,
        name: str(p.name) ?? token,
        rtspUri: str(rec(uri).uri),
        videoSourceConfigToken: str(rec(rec(p.videoSourceConfiguration).$).token),
        encoder,
      });
    }
    return out;
  }

  /** The camera's clock against ours. The reading has whole seconds: +0.5 s puts it mid-second. */
  async clock(now: () => number = Date.now): Promise<ClockReading> {
    const t0 = now();
    const camera = (await this.call('GetSystemDateAndTime', () => this.invoke('getSystemDateAndTime'))) as Date;
    const t1 = now();
    if (!(camera instanceof Date) || Number.isNaN(camera.getTime())) throw problem('GetSystemDateAndTime', this.login.url, new Error('no UTC date and time in the answer'));
    return { camera, offsetMs: Math.round(camera.getTime() + 500 - (t0 + t1) / 2) };
  }

  /**
   * Set the camera's clock from ours: manual (the camera must not follow an NTP server of its own that may
   * disagree with the evidence), in UTC, with the time zone it shows on screen. ONVIF carries whole seconds, so
   * this waits for the start of the next second and sends that second.
   */
  async setClock(o: { timeZone: string; now?: () => number }): Promise<ClockReading> {
    await this.connect();
    const now = o.now ?? Date.now;
    const wait = 1000 - (now() % 1000);
    await new Promise((r) => setTimeout(r, wait));
    const at = new Date(Math.round(now() / 1000) * 1000);
    await this.call('SetSystemDateAndTime', () => this.invoke('setSystemDateAndTime', { dateTime: at, dateTimeType: 'Manual', daylightSavings: false, timezone: o.timeZone }));
    // WS-Security timestamps follow the camera's clock, learnt at connect: learn it again now that it moved.
    if (this.cam) (this.cam as unknown as { timeShift?: number }).timeShift = undefined;
    return this.clock(now);
  }

  /** One encoder configuration as the camera has it now. */
  async encoder(token: string): Promise<EncoderSettings | undefined> {
    await this.connect();
    return parseEncoder(await this.call('GetVideoEncoderConfiguration', () => this.encoderConfig(token)));
  }

  /** Set the GOP of an encoder configuration to `gopSeconds` at its frame rate; the settings as the camera has them after. */
  async setGop(encoderToken: string, gopSeconds: number): Promise<EncoderSettings> {
    await this.connect();
    const current = rec(await this.call('GetVideoEncoderConfiguration', () => this.encoderConfig(encoderToken)));
    const e = parseEncoder(current);
    if (!e || e.fps <= 0) throw problem('SetVideoEncoderConfiguration', this.login.url, new Error(`encoder ${encoderToken} has no frame rate to derive a GOP from`));
    if (e.encoding !== 'H264') throw problem('SetVideoEncoderConfiguration', this.login.url, new Error(`encoder ${encoderToken} sends ${e.encoding}; only H.264 has a GovLength in ONVIF Media`));
    const h264 = rec(current.H264);
    // SetVideoEncoderConfiguration replaces the whole configuration: send back what the camera said, GOP changed.
    const after = await this.call('SetVideoEncoderConfiguration', () =>
      this.invoke('setVideoEncoderConfiguration', {
        ...current,
        token: encoderToken,
        H264: { govLength: Math.max(1, Math.round(e.fps * gopSeconds)), profile: str(h264.H264Profile) },
      }),
    );
    const out = parseEncoder(after);
    if (!out) throw problem('SetVideoEncoderConfiguration', this.login.url, new Error('no configuration in the answer'));
    return out;
  }

  /** The camera's overlays, or undefined when it has no OSD support (the call is not implemented). */
  async osds(videoSourceConfigToken?: string): Promise<Osd[] | undefined> {
    await this.connect();
    let r: unknown;
    try {
      r = await this.invoke('getOSDs', videoSourceConfigToken ?? '');
    } catch (err) {
      if (/ActionNotSupported|not implemented|not supported|NoSuchService|Unknown action/i.test(String(err))) return undefined;
      throw problem('GetOSDs', this.login.url, err);
    }
    return list(rec(rec(r).getOSDsResponse).OSDs)
      .map(rec)
      .filter((o) => str(rec(o.$).token) !== undefined)
      .map((o) => {
        const ts = rec(o.textString);
        const kind = str(ts.type);
        return {
          token: str(rec(o.$).token)!,
          videoSourceConfigToken: str(o.videoSourceConfigurationToken),
          kind: kind === 'DateAndTime' || kind === 'Plain' ? kind : undefined,
          text: str(ts.plainText),
          position: str(rec(o.position).type),
        };
      });
  }

  /** Create (no token) or change an overlay: the date and time, or a plain text. */
  async putOsd(o: { token?: string; videoSourceConfigToken: string; position: OsdPosition } & ({ kind: 'DateAndTime' } | { kind: 'Plain'; text: string })): Promise<void> {
    await this.connect();
    const what = o.kind === 'DateAndTime' ? { dateFormat: 'yyyy-MM-dd', timeFormat: 'HH:mm:ss' } : { plaintext: xmlEscape(o.text) };
    if (o.token) {
      await this.call('SetOSD', () => this.invoke('setOSD', { OSDToken: o.token, videoSourceConfigurationToken: o.videoSourceConfigToken, position: o.position, ...what }));
    } else {
      // The library spells this option "Configuation" (sic).
      await this.call('CreateOSD', () => this.invoke('createOSD', { videoSourceConfiguationToken: o.videoSourceConfigToken, position: o.position, ...what }));
    }
  }
}

/**
 * The package pairs each video source with a profile once connected, and throws "Unrecognized configuration"
 * when a camera's first source has none, inside its HTTP callback, where nothing can catch it: the gateway would
 * crash on a camera whose lists disagree. We never use that pairing (profiles() reads GetProfiles itself), so a
 * camera like that just has no active sources.
 */
function guardActiveSources(cam: Cam): void {
  const c = cam as unknown as { getActiveSources: () => void; activeSources: unknown[] };
  const pair = c.getActiveSources.bind(cam);
  c.getActiveSources = () => {
    try {
      pair();
    } catch {
      c.activeSources = [];
    }
  };
}
