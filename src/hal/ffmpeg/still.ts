/**
 * The camera aiming aid: one JPEG frame of a camera, read by its own short ffmpeg run straight into memory
 * (stdout, never a file) and handed to the browser. Only the console calls it, and only while no session is
 * open, so it never competes with a recording for the device. One grab at a time; each is bounded in time and size.
 *
 */
import { spawn } from 'node:child_process';
import type { SourceConfig } from '../../config/types.js';
import { DEFAULTS, v4l2InputFormat } from './args.js';
import { RecgwError } from '../../util/errors.js';

const TIMEOUT_MS = 15_000;
const MAX_JPEG = 16 * 1024 * 1024;
const JPEG_OUT = ['-frames:v', '1', '-an', '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '4', 'pipe:1'];

/** The program and arguments that print one JPEG of `src` on stdout. */
export function stillCommand(src: SourceConfig, ffmpeg = 'ffmpeg'): { command: string; args: string[] } {
  const base = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];
  const w = src.width ?? DEFAULTS.width;
  const h = src.height ?? DEFAULTS.height;
  const fps = src.fps ?? DEFAULTS.fps;
  switch (src.driver) {
    case 'sim':
      return { command: ffmpeg, args: [...base, '-f', 'lavfi', '-i', src.simFilter ?? `testsrc2=size=${w}x${h}:rate=${fps}`, ...JPEG_OUT] };
    case 'v4l2':
      return {
        command: ffmpeg,
        args: [...base, '-f', 'v4l2', '-input_format', v4l2InputFormat(src), '-video_size', `${w}x${h}`, '-i', src.device ?? DEFAULTS.v4l2Device, ...JPEG_OUT],
      };
    case 'rtsp':
      if (!src.url) throw new RecgwError('config', `source ${src.id} has no url`);
      return { command: ffmpeg, args: [...base, '-rtsp_transport', 'tcp', '-timeout', String(DEFAULTS.rtspTimeoutSeconds * 1e6), '-i', src.url, ...JPEG_OUT] };
    case 'rpicam':
      // rpicam-still writes the JPEG to stdout with `-o -`.
      return { command: 'rpicam-still', args: ['-n', '-t', '500', '--width', String(w), '--height', String(h), '-e', 'jpg', '-o', '-'] };
    case 'alsa':
      throw new RecgwError('usage', `source ${src.id} is a microphone: there is no picture to show`);
  }
}

/** A source that can give a still, as the console lists it. */
export interface StillSource {
  id: string;
  kind: 'camera' | 'microphone';
  label?: string;
}

export class FfmpegStillGrabber {
  private busy = false;

  constructor(
    private readonly configs: SourceConfig[],
    private readonly ffmpegPath = 'ffmpeg',
  ) {}

  sources(): StillSource[] {
    return this.configs.map((s) => ({ id: s.id, kind: s.kind, ...(s.label ? { label: s.label } : {}) }));
  }

  async grab(sourceId: string): Promise<Buffer> {
    const src = this.configs.find((s) => s.id === sourceId);
    if (!src) throw new RecgwError('usage', `no source ${JSON.stringify(sourceId)} in the config`);
    if (src.kind !== 'camera') throw new RecgwError('usage', `source ${src.id} is a microphone: there is no picture to show`);
    if (this.busy) throw new RecgwError('hardware', 'another picture is being taken: try again in a moment');
    this.busy = true;
    try {
      return await this.run(stillCommand(src, this.ffmpegPath), src.id);
    } finally {
      this.busy = false;
    }
  }

  private run(cmd: { command: string; args: string[] }, id: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let size = 0;
      let err = '';
      let failure: string | undefined;
      const timer = setTimeout(() => {
        failure = `no picture from ${id} within ${TIMEOUT_MS / 1000} s`;
        child.kill('SIGKILL');
      }, TIMEOUT_MS);
      child.stdout.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_JPEG) {
          failure = `the picture from ${id} is larger than ${MAX_JPEG} bytes`;
          child.kill('SIGKILL');
        } else out.push(c);
      });
      child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-2000)));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new RecgwError('hardware', `cannot run ${cmd.command} for ${id}: ${e.message}`, { cause: e }));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const jpeg = Buffer.concat(out);
        if (!failure && code === 0 && jpeg.length > 2 && jpeg[0] === 0xff && jpeg[1] === 0xd8) return resolve(jpeg);
        const tail = err.trim().split('\n').slice(-2).join(' ');
        reject(new RecgwError('hardware', failure ?? `no picture from ${id} (${cmd.command} exited with ${code}${tail ? `: ${tail}` : ''}): check the camera's cable, power and config`));
      });
    });
  }
}
