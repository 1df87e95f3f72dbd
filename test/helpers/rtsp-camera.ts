/**
 * IP cameras for the tests, played by third-party RTSP servers: GStreamer's gst-rtsp-server (rtsp-server.py, TCP
 * and UDP, optional digest authentication) and VLC (RTP over UDP only; it answers a TCP SETUP with 461). They
 * serve files ffmpeg encodes beforehand with the settings cameras ship with, so the gateway gets the encoder's own
 * packets (B-frames, long GOPs, HEVC, G.711) exactly as a camera sends them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CameraProfile {
  /** Part of the media file's name. */
  name: string;
  video: 'h264' | 'hevc';
  /** H.264 profile (ignored for HEVC). */
  profile?: 'baseline' | 'main' | 'high';
  /** B-frames: libx264's and libx265's defaults when true, none when false. */
  bFrames: boolean;
  gopSeconds: number;
  audio: 'aac' | 'pcm_alaw' | 'pcm_mulaw' | null;
  /** Video bitrate (default 400). */
  kbps?: number;
}

export const FPS = 25;
const SIZE = '320x240';

function encoderArgs(p: CameraProfile): string[] {
  const gop = String(p.gopSeconds * FPS);
  const video =
    p.video === 'hevc'
      ? // Closed GOPs, as cameras send them (x265's default open GOP: see docs/operations.md §15).
        ['-c:v', 'libx265', '-tag:v', 'hvc1', '-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0:log-level=error${p.bFrames ? '' : ':bframes=0'}`]
      : ['-c:v', 'libx264', '-profile:v', p.profile ?? 'high', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', ...(p.bFrames ? [] : ['-bf', '0'])];
  const audio =
    p.audio === null ? ['-an'] : p.audio === 'aac' ? ['-c:a', 'aac', '-b:a', '64k'] : ['-c:a', p.audio, '-ar', '8000', '-ac', '1'];
  return [...video, '-b:v', `${p.kbps ?? 400}k`, '-pix_fmt', 'yuv420p', ...audio];
}

/** What a camera sees and hears, when it is not the moving test scene with a 440 Hz tone. */
export interface Scene {
  /** Part of the media file's name: it must change whenever the graphs do. */
  name: string;
  /** A lavfi graph from the test scene (testsrc2) to the picture served. */
  filter: string;
  /** A lavfi source graph for the sound, instead of the tone. */
  audio?: string;
}

/**
 * A QuickTime file of the moving test scene (testsrc2) with a tone, or what `scene` makes of them, `seconds` long,
 * encoded as `p` says. Made once per machine into a cache folder readable by every user (VLC runs as nobody): x265
 * takes a while.
 */
export function cameraMedia(p: CameraProfile, seconds: number, scene?: Scene): string {
  const dir = join(tmpdir(), 'recgw-camera-media-v2');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const file = join(dir, `${p.name}-${p.video}-${p.profile ?? ''}-bf${p.bFrames ? 1 : 0}-g${p.gopSeconds}-${p.audio ?? 'none'}${p.kbps ? `-${p.kbps}k` : ''}-${seconds}s${scene ? `-${scene.name}` : ''}.mov`);
  if (existsSync(file)) return file;
  const part = `${file}.${process.pid}.part.mov`;
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${SIZE}:rate=${FPS}${scene ? `,${scene.filter}` : ''}`,
    '-f', 'lavfi', '-i', scene?.audio ?? 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-map', '0:v', ...(p.audio ? ['-map', '1:a'] : []),
    ...encoderArgs(p), part,
  ]);
  chmodSync(part, 0o644);
  renameSync(part, file);
  return file;
}

/** Resolves once something accepts TCP connections on the port. */
async function listening(port: number, timeoutMs: number, proc: ChildProcess, what: string, log: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} does not listen on ${port} after ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RtspServer {
  port: number;
  /** rtsp://[user:password@]127.0.0.1:port/mount */
  url(mount: string): string;
  /** SIGKILL it (a camera losing power); start() brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function managed(port: number, what: string, launch: () => ChildProcess, url: (mount: string) => string): RtspServer {
  let proc: ChildProcess | undefined;
  let out = '';
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    // Its own process group: VLC runs under runuser, which must not leave it behind.
    process.kill(-p.pid!, signal);
    await gone;
  };
  return {
    port,
    url,
    async start() {
      proc = launch();
      proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await listening(port, 20_000, proc, what, () => out);
    },
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

const SCRIPT = join(import.meta.dirname, 'rtsp-server.py');

/** gst-rtsp-server on `port` serving each file at its mount (TCP and UDP); with `auth`, digest only. */
export async function startGstServer(port: number, mounts: Record<string, string>, auth?: { user: string; password: string }): Promise<RtspServer> {
  const args = [SCRIPT, String(port), ...Object.entries(mounts).map(([m, f]) => `${m}=${f}`), ...(auth ? ['--user', auth.user, '--password', auth.password] : [])];
  const creds = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : '';
  // Debian's python3 (python3-gi): another python3 first on PATH has no gi.
  const s = managed(port, 'gst-rtsp-server', () => spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }), (m) => `rtsp://${creds}127.0.0.1:${port}/${m}`);
  await s.start();
  return s;
}

/** VLC serving one file at rtsp://127.0.0.1:port/x, RTP over UDP only, as user nobody (VLC refuses root). */
export async function startVlc(port: number, file: string): Promise<RtspServer> {
  // A home of its own that nobody can write (VLC keeps its settings there).
  const home = mkdtempSync(join(tmpdir(), 'recgw-vlc-'));
  execFileSync('chown', ['nobody', home]);
  const s = managed(
    port,
    'vlc',
    () =>
      spawn('runuser', ['-u', 'nobody', '--', 'cvlc', '-q', file, '--sout', `#rtp{sdp=rtsp://127.0.0.1:${port}/x}`, '--sout-keep'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: { ...process.env, HOME: home },
      }),
    () => `rtsp://127.0.0.1:${port}/x`,
  );
  await s.start();
  return { ...s, stop: () => s.stop().finally(() => rmSync(home, { recursive: true, force: true })) };
}
