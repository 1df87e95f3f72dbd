/**
 * Finding ONVIF cameras on the LAN: a WS-Discovery probe (multicast to 239.255.255.250:3702, through the `onvif`
 * package) on each LAN interface, then, for each camera that answered, what it is and what it streams, read with
 * the login the technician gave. A camera that refuses the login is still listed, with the reason.
 */
import { networkInterfaces } from 'node:os';
import type onvifPromises from 'onvif/promises/index.js';
import { OnvifCamera, type DeviceInfo, type StreamProfile } from './camera.js';

export interface LanInterface {
  name: string;
  address: string;
}

export interface Announced {
  /** The camera's WS-Discovery endpoint (urn:uuid:...), the same on every interface. */
  urn: string;
  /** Its device service URLs. */
  xaddrs: string[];
  /** From its scopes (onvif://www.onvif.org/name/..., .../hardware/...), readable without a login. */
  name: string | undefined;
  hardware: string | undefined;
  /** The interface it answered on. */
  via: string;
}

export interface FoundCamera extends Announced {
  info: DeviceInfo | undefined;
  profiles: StreamProfile[];
  /** Why its details could not be read (no login given, login refused, no answer). */
  error: string | undefined;
}

// The package's Discovery is one shared emitter that emits 'error' for every malformed answer on the LAN; an
// 'error' event without a listener would end the process, so one listener is always there.
let lastProbeErrors: string[] = [];
let loaded: typeof onvifPromises | undefined;

/** The package, loaded on the first search (about 11 MB of the gateway's memory), with that listener. */
async function discovery(): Promise<typeof onvifPromises> {
  if (loaded) return loaded;
  const onvif = (await import('onvif/promises/index.js')).default;
  onvif.Discovery.on('error', (err: unknown) => {
    lastProbeErrors.push(String(err).slice(0, 200));
    if (lastProbeErrors.length > 20) lastProbeErrors = lastProbeErrors.slice(-20);
  });
  loaded = onvif;
  return onvif;
}

/** The IPv4 LAN interfaces (not loopback) a probe can go out on. */
export function lanInterfaces(): LanInterface[] {
  return Object.entries(networkInterfaces()).flatMap(([name, addrs]) =>
    (addrs ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => ({ name, address: a.address })),
  );
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === 'object' ? (v as Rec) : {});
const scope = (scopes: string, key: string): string | undefined => {
  const m = new RegExp(`onvif://www\\.onvif\\.org/${key}/(\\S+)`).exec(scopes);
  return m ? decodeURIComponent(m[1]!) : undefined;
};

/**
 * Probe on each named interface (every LAN interface when no list is given) and wait `timeoutMs` for answers. The
 * package binds its socket to the interface's address, which makes the kernel send the multicast out there.
 */
export async function probe(o: { interfaces?: string[]; timeoutMs?: number } = {}): Promise<Announced[]> {
  const names = o.interfaces ?? [...new Set(lanInterfaces().map((a) => a.name))];
  const found = new Map<string, Announced>();
  await Promise.all(
    names.map(async (name) => {
      const answers = await (await discovery()).Discovery.probe({ device: name, resolve: false, timeout: o.timeoutMs ?? 3000 }).catch(() => []);
      for (const a of answers) {
        const m = rec(rec(rec(a).probeMatches).probeMatch);
        const urn = String(rec(m.endpointReference).address ?? '');
        const xaddrs = String(m.XAddrs ?? '').split(/\s+/).filter((x) => /^https?:\/\//.test(x));
        if (!urn || xaddrs.length === 0 || found.has(urn)) continue;
        const scopes = typeof m.scopes === 'string' ? m.scopes : '';
        found.set(urn, { urn, xaddrs, name: scope(scopes, 'name'), hardware: scope(scopes, 'hardware'), via: name });
      }
    }),
  );
  return [...found.values()].sort((a, b) => a.xaddrs[0]!.localeCompare(b.xaddrs[0]!));
}

/** Each camera's details (maker, model, profiles with RTSP URI and GOP) read with the login given. */
export async function describe(cams: Announced[], login: { user?: string; password?: string; timeoutMs?: number }): Promise<FoundCamera[]> {
  return Promise.all(
    cams.map(async (c): Promise<FoundCamera> => {
      const cam = new OnvifCamera({ url: c.xaddrs[0]!, ...login });
      try {
        const info = await cam.info();
        return { ...c, info, profiles: await cam.profiles(), error: undefined };
      } catch (err) {
        return { ...c, info: undefined, profiles: [], error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
