/**
 * The ffmpeg command line for one run of a source: pure, so every driver's arguments are unit-tested.
 *
 * Every run writes MPEG-TS segments with the segment muxer (`flush_packets=1`: a kill -9 leaves the open segment
 * readable to its last packet), a CSV segment list the source polls, and its log with the detectors' lines.
 * Timestamps are kept continuous across the segments of a run (`-reset_timestamps 0`): the CSV times, the
 * detectors' times and the packets inside each file are then all on one timeline, so a segment that was never
 * listed (ffmpeg killed) can still be placed on it, and the segments of a run concatenate without a jump.
 */
import { join } from 'node:path';
import type { SourceConfig } from '../../config/types.js';
import { overlayFilters, type OverlayFiles } from './overlay.js';

/** Detector thresholds. Durations are the minimum length of a black/frozen picture or silence worth an event. */
export const DETECTORS = {
  blackSeconds: 2,
  /** A pixel darker than this (fraction of the range) counts as black; ffmpeg's default. */
  blackPixelThreshold: 0.1,
  freezeSeconds: 2,
  /** Mean frame difference below this counts as frozen (ffmpeg's default, -60 dB). Sensor noise stays above it. */
  freezeNoise: 0.001,
  silenceSeconds: 3,
  silenceDb: -50,
} as const;

export const DEFAULTS = {
  width: 1280,
  height: 720,
  fps: 25,
  videoKbps: 2000,
  /** AAC per channel. */
  audioKbpsPerChannel: 64,
  sampleRate: 48000,
  channels: 1,
  toneHz: 1000,
  alsaDevice: 'default',
  v4l2Device: '/dev/video0',
  /** RTSP socket timeout: a camera that stops answering makes ffmpeg exit instead of hanging. */
  rtspTimeoutSeconds: 5,
} as const;

export const SEGMENT_LIST = 'segments.csv';
export const LOG_FILE = 'ffmpeg.log';
export const SEGMENT_PATTERN = 'seg-%06d.ts';
/** Matches the files SEGMENT_PATTERN produces; group 1 is the index. */
export const SEGMENT_FILE_RE = /^seg-(\d{6,})\.ts$/;

export interface BuildOptions {
  runDir: string;
  segmentSeconds: number;
  ffmpegPath?: string;
  /** rpicam driver only: the camera program, `rpicam-vid` on Raspberry Pi OS. */
  rpicamPath?: string;
  rtspTimeoutSeconds?: number;
  /** Time and identity drawn on the picture of cameras this run encodes (sim, v4l2 without copy). */
  overlay?: OverlayFiles;
}

export interface FfmpegCommand {
  /** What to spawn: ffmpeg itself, or `sh` for a pipeline (rpicam). */
  command: string;
  args: string[];
  /** The stream whose packets place a segment on the timeline (video for cameras, audio for microphones). */
  primary: 'video' | 'audio';
}

/** `-vf` chain of the camera detectors. blackdetect only logs a black interval once it has ended, so the
 * metadata filters print the first black frame and the first picture after it as they happen. */
export function videoDetectors(): string {
  const d = DETECTORS;
  return [
    `blackdetect=d=${d.blackSeconds}:pix_th=${d.blackPixelThreshold}`,
    'metadata=mode=print:key=lavfi.black_start',
    'metadata=mode=print:key=lavfi.black_end',
    `freezedetect=n=${d.freezeNoise}:d=${d.freezeSeconds}`,
  ].join(',');
}

export function audioDetectors(): string {
  return `silencedetect=n=${DETECTORS.silenceDb}dB:d=${DETECTORS.silenceSeconds}`;
}

/** The -vf of an encoded camera: the detectors on the picture as it comes, then the overlay on top. */
function encodedVideoFilters(o: BuildOptions): string {
  return o.overlay ? `${videoDetectors()},${overlayFilters(o.overlay)}` : videoDetectors();
}

/** Quote one word for POSIX sh. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\-+=.,:/@%]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function segmentOutput(runDir: string, segmentSeconds: number): string[] {
  return [
    '-f', 'segment',
    '-segment_format', 'mpegts',
    // Inside the segment muxer's own options, or they have no effect on the per-segment TS muxer. The TS muxer
    // holds audio until a PES packet has 2930 bytes (~0.37 s of 64 kb/s AAC), all lost on a kill -9; 700 bytes
    // (~85 ms) costs ~25% more audio bytes. Video is written frame by frame either way.
    '-segment_format_options', 'flush_packets=1:pes_payload_size=700',
    '-segment_time', String(segmentSeconds),
    '-segment_list', join(runDir, SEGMENT_LIST),
    '-segment_list_type', 'csv',
    '-reset_timestamps', '0',
    join(runDir, SEGMENT_PATTERN),
  ];
}

function forceKeyFrames(segmentSeconds: number): string[] {
  return ['-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`];
}

function aac(kbps: number): string[] {
  return ['-c:a', 'aac', '-b:a', `${kbps}k`];
}

function videoEncoder(src: SourceConfig, segmentSeconds: number): string[] {
  const kbps = src.bitrateKbps ?? DEFAULTS.videoKbps;
  const fps = src.fps ?? DEFAULTS.fps;
  if (src.encoder === 'h264_v4l2m2m') {
    // The Pi's hardware encoder: needs yuv420p and an explicit bitrate; a GOP of one second keeps segment
    // boundaries on key frames even where a forced key frame is not honoured; dump_extra repeats SPS/PPS at each
    // key frame so every segment decodes on its own.
    return [
      '-c:v', 'h264_v4l2m2m', '-pix_fmt', 'yuv420p', '-b:v', `${kbps}k`, '-g', String(fps),
      ...forceKeyFrames(segmentSeconds),
      '-bsf:v', 'dump_extra=freq=keyframe',
    ];
  }
  return [
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${2 * kbps}k`,
    ...forceKeyFrames(segmentSeconds),
  ];
}

const base = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'];

/**
 * Video that is copied, not re-encoded (rtsp, rpicam, a v4l2 camera giving H.264): a second output decodes only
 * its key frames for the detectors (`-skip_frame nokey` on the input), which costs a fraction of a full decode.
 */
function copiedVideo(input: string[], runDir: string, segmentSeconds: number, audio: string[]): string[] {
  return [
    ...base,
    '-skip_frame', 'nokey',
    ...input,
    '-map', '0:v:0', ...(audio.length ? ['-map', '0:a:0?'] : []),
    '-c:v', 'copy', ...audio,
    ...segmentOutput(runDir, segmentSeconds),
    '-map', '0:v:0', '-vf', videoDetectors(), '-f', 'null', '-',
  ];
}

function simCamera(src: SourceConfig, o: BuildOptions): string[] {
  const w = src.width ?? DEFAULTS.width;
  const h = src.height ?? DEFAULTS.height;
  const fps = src.fps ?? DEFAULTS.fps;
  const video = src.simFilter ?? `testsrc2=size=${w}x${h}:rate=${fps}`;
  const tone = src.withAudio
    ? ['-re', '-f', 'lavfi', '-i', `sine=frequency=${src.frequency ?? DEFAULTS.toneHz}:sample_rate=${DEFAULTS.sampleRate}`]
    : [];
  return [
    ...base,
    '-re', '-f', 'lavfi', '-i', video,
    ...tone,
    '-map', '0:v:0', ...(src.withAudio ? ['-map', '1:a:0'] : []),
    '-vf', encodedVideoFilters(o),
    ...videoEncoder(src, o.segmentSeconds),
    ...(src.withAudio ? aac(DEFAULTS.audioKbpsPerChannel) : []),
    ...segmentOutput(o.runDir, o.segmentSeconds),
  ];
}

function microphone(input: string[], src: SourceConfig, o: BuildOptions): string[] {
  const channels = src.channels ?? DEFAULTS.channels;
  return [
    ...base,
    ...input,
    '-map', '0:a:0',
    '-af', audioDetectors(),
    '-ac', String(channels),
    '-ar', String(src.sampleRate ?? DEFAULTS.sampleRate),
    ...aac(src.bitrateKbps ?? DEFAULTS.audioKbpsPerChannel * channels),
    ...segmentOutput(o.runDir, o.segmentSeconds),
  ];
}

/** MJPEG for anything above VGA (raw YUYV over USB 2 only manages a few frames per second at 720p). */
export function v4l2InputFormat(src: SourceConfig): 'mjpeg' | 'yuyv422' | 'h264' {
  if (src.encoder === 'copy') return 'h264';
  return (src.width ?? DEFAULTS.width) * (src.height ?? DEFAULTS.height) > 640 * 480 ? 'mjpeg' : 'yuyv422';
}

function v4l2(src: SourceConfig, o: BuildOptions): string[] {
  const input = [
    '-f', 'v4l2',
    '-input_format', v4l2InputFormat(src),
    '-video_size', `${src.width ?? DEFAULTS.width}x${src.height ?? DEFAULTS.height}`,
    '-framerate', String(src.fps ?? DEFAULTS.fps),
    '-i', src.device ?? DEFAULTS.v4l2Device,
  ];
  if (src.encoder === 'copy') return copiedVideo(input, o.runDir, o.segmentSeconds, []);
  return [
    ...base,
    ...input,
    '-map', '0:v:0',
    '-vf', encodedVideoFilters(o),
    ...videoEncoder(src, o.segmentSeconds),
    ...segmentOutput(o.runDir, o.segmentSeconds),
  ];
}

function rtsp(src: SourceConfig, o: BuildOptions): string[] {
  if (!src.url) throw new Error(`source ${src.id}: the rtsp driver needs a url (rtsp://...)`);
  const timeoutUs = Math.round((o.rtspTimeoutSeconds ?? DEFAULTS.rtspTimeoutSeconds) * 1e6);
  const input = [
    '-rtsp_transport', 'tcp',
    // Socket I/O timeout: a dead camera (no answer, or a stream that stops) ends the run instead of hanging it.
    '-timeout', String(timeoutUs),
    // Probe briefly: whatever is read while probing is written later in a burst, which would skew the run's
    // wall-clock anchor.
    '-analyzeduration', '1000000',
    '-i', src.url,
  ];
  // The camera's audio (often G.711, which MPEG-TS cannot carry) is re-encoded to AAC, which costs little.
  return copiedVideo(input, o.runDir, o.segmentSeconds, aac(DEFAULTS.audioKbpsPerChannel));
}

/**
 * rpicam: `rpicam-vid` writes raw H.264 to a pipe and ffmpeg copies it into segments. Both run under one `sh`,
 * spawned as the process group leader, so the pipe lives between the two programs and not through us.
 * `trap '' INT` keeps the shell alive on our SIGINT to the group until ffmpeg has finished its segment (the
 * shell's exit status is ffmpeg's). Raw H.264 has no timestamps: ffmpeg numbers frames at the configured rate,
 * so the timeline follows the sensor's frame clock. Probing is cut to nothing so frames are not buffered.
 */
function rpicam(src: SourceConfig, o: BuildOptions, ffmpeg: string): string[] {
  const w = src.width ?? DEFAULTS.width;
  const h = src.height ?? DEFAULTS.height;
  const fps = src.fps ?? DEFAULTS.fps;
  const kbps = src.bitrateKbps ?? DEFAULTS.videoKbps;
  const camera = [
    o.rpicamPath ?? 'rpicam-vid',
    '-t', '0', '--nopreview', '--inline', '--flush', '--codec', 'h264',
    '--width', String(w), '--height', String(h), '--framerate', String(fps),
    // A key frame every second: segment boundaries (whole seconds) fall on key frames.
    '--intra', String(fps),
    '--bitrate', String(kbps * 1000),
    '-o', '-',
  ];
  const input = ['-probesize', '32', '-analyzeduration', '0', '-framerate', String(fps), '-f', 'h264', '-i', '-'];
  const ff = [ffmpeg, ...copiedVideo(input, o.runDir, o.segmentSeconds, [])];
  return ['-c', `trap '' INT; ${camera.map(shellQuote).join(' ')} | exec ${ff.map(shellQuote).join(' ')}`];
}

/** The command for one run of `src` writing into `o.runDir`. Throws on a config the driver cannot record. */
export function buildFfmpegCommand(src: SourceConfig, o: BuildOptions): FfmpegCommand {
  if (!Number.isInteger(o.segmentSeconds) || o.segmentSeconds < 1) {
    throw new Error(`segmentSeconds must be a whole number of seconds >= 1, got ${o.segmentSeconds}`);
  }
  const ffmpeg = o.ffmpegPath ?? 'ffmpeg';
  const primary = src.kind === 'camera' ? 'video' : 'audio';
  const ff = (args: string[]): FfmpegCommand => ({ command: ffmpeg, args, primary });
  if (src.kind === 'microphone') {
    const channels = src.channels ?? DEFAULTS.channels;
    const rate = src.sampleRate ?? DEFAULTS.sampleRate;
    switch (src.driver) {
      case 'sim':
        return ff(microphone(['-re', '-f', 'lavfi', '-i', src.simFilter ?? `sine=frequency=${src.frequency ?? DEFAULTS.toneHz}:sample_rate=${rate}`], src, o));
      case 'alsa':
        return ff(microphone(['-f', 'alsa', '-ac', String(channels), '-ar', String(rate), '-i', src.device ?? DEFAULTS.alsaDevice], src, o));
      default:
        throw new Error(`source ${src.id}: a microphone needs the sim or alsa driver, not ${src.driver}`);
    }
  }
  switch (src.driver) {
    case 'sim':
      return ff(simCamera(src, o));
    case 'v4l2':
      return ff(v4l2(src, o));
    case 'rtsp':
      return ff(rtsp(src, o));
    case 'rpicam':
      return { command: 'sh', args: rpicam(src, o, ffmpeg), primary };
    case 'alsa':
      throw new Error(`source ${src.id}: a camera cannot use the alsa driver`);
  }
}
