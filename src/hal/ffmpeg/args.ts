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
import type { DetectorConfig, SourceConfig } from '../../config/types.js';
import type { Transcoded } from '../capture.js';
import { overlayFilters, type OverlayFiles } from './overlay.js';
import { voiceMeter } from './voice.js';

/**
 * Detector thresholds (config `recording.detectors` overrides them). Durations are the minimum length of a black or
 * frozen picture or a dead microphone worth an event. The measurements behind them are in docs/operations.md.
 */
export const DETECTORS: DetectorConfig = {
  blackSeconds: 2,
  /** A pixel darker than this (fraction of the range) counts as black; ffmpeg's default. */
  blackPixelThreshold: 0.1,
  freezeSeconds: 2,
  /** Mean frame difference below this counts as frozen (ffmpeg's default, -60 dB). Sensor noise stays above it. */
  freezeNoise: 0.001,
  /** Copied video: every frame is decoded (a P-frame needs the ones before it) but only this many a second compared. */
  sampleFps: 2,
  /** silencedetect compares every sample's amplitude: -90 dB is within one 16-bit step of zero, so only digital
   * silence (a dead or disconnected input) stays below it; a quiet room's noise floor is 30 dB and more above. */
  silenceDb: -90,
  silenceSeconds: 3,
};

/** Audio codecs MPEG-TS carries as they are; any other camera audio (G.711, PCM) is transcoded to AAC. */
export const TS_AUDIO_CODECS: readonly string[] = ['aac', 'mp2', 'mp3'];

/** The longest GOP a copied stream may have (s): a segment of copied video ends at the first key frame after its
 * time, so it may last this much longer than the segment time. */
export const MAX_GOP_SECONDS = 10;

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
  /**
   * RTP over UDP: the socket's receive buffer (bytes). While ffmpeg is not scheduled (a loaded CPU, a Pi's SD card
   * stalling a write) the kernel holds what the camera sends in it and drops the rest, and a key frame that lost a
   * packet costs its whole GOP. ffmpeg asks for 384 KiB (under a second of a 4 Mbit/s camera); 8 MiB holds 16 s of
   * it. The kernel caps it at net.core.rmem_max (docs/operations.md §15).
   */
  udpBufferBytes: 8 * 1024 * 1024,
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
  detectors?: DetectorConfig;
  /** rtsp only: the camera's streams as probed before the run (rtsp-probe.ts); decides what is copied. */
  camera?: CameraStreams;
}

export interface CameraStreams {
  video: string;
  /** The audio codec, or null when the camera sends no audio. */
  audio: string | null;
}

export interface FfmpegCommand {
  /** What to spawn: ffmpeg itself, or `sh` for a pipeline (rpicam). */
  command: string;
  args: string[];
  /** The stream whose packets place a segment on the timeline (video for cameras, audio for microphones). */
  primary: 'video' | 'audio';
  /** Streams re-encoded from what the device sent, when the device encodes (rtsp). */
  transcoded: Transcoded[];
}

/** `-vf` chain of the camera detectors. blackdetect only logs a black interval once it has ended, so the
 * metadata filters print the first black frame and the first picture after it as they happen. */
export function videoDetectors(d: DetectorConfig = DETECTORS): string {
  return [
    `blackdetect=d=${d.blackSeconds}:pix_th=${d.blackPixelThreshold}`,
    'metadata=mode=print:key=lavfi.black_start',
    'metadata=mode=print:key=lavfi.black_end',
    `freezedetect=n=${d.freezeNoise}:d=${d.freezeSeconds}`,
  ].join(',');
}

/** The audio detectors, on a branch of their own (the high-pass filter must not touch the recording). A dead input
 * may hold one value instead of zero: G.711 A-law has no zero, and its digital silence decodes to +8 (-72 dBFS), which
 * silencedetect alone takes for sound. Removing what is below 20 Hz (no sound anyone hears) turns a constant into
 * zeros within 30 ms and leaves a quiet room's noise as it is. */
export function audioDetectors(d: DetectorConfig = DETECTORS): string {
  return `highpass=f=20,silencedetect=n=${d.silenceDb}dB:d=${d.silenceSeconds}`;
}

/** The output that only feeds the detectors: decoded, filtered and thrown away. */
function detectorOutput(video: string | undefined, audio: string | undefined): string[] {
  return [
    ...(video ? ['-map', '0:v:0', '-vf', video] : []),
    ...(audio ? ['-map', '0:a:0', '-af', audio] : []),
    '-f', 'null', '-',
  ];
}

/** The detector branch of a microphone: the sound through the dead-microphone detector, and a copy through the voice
 * meter (voice.ts) into a sink. Both are off the recorded stream, so neither touches what is recorded. */
export function microphoneFilters(d: DetectorConfig = DETECTORS): string {
  return `asplit=2[det][voice];[voice]${voiceMeter()},anullsink;[det]${audioDetectors(d)}`;
}

/** The -vf of an encoded camera: the detectors on the picture as it comes, then the overlay on top. */
function encodedVideoFilters(o: BuildOptions): string {
  const detect = videoDetectors(detectorsOf(o));
  return o.overlay ? `${detect},${overlayFilters(o.overlay)}` : detect;
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
 * Video that is copied, not re-encoded (rtsp, rpicam, a v4l2 camera giving H.264), into segments cut at its own
 * key frames. A second output feeds the detectors: every frame is decoded (decoding only key frames shows a 2 s
 * GOP as a picture frozen for 2 s, one false interruption per GOP), without the deblocking filter (about a fifth
 * of the decode, and nothing black or frozen depends on it), and only `sampleFps` frames a second are compared.
 * The camera's audio, when it sends any, goes through the microphone's detectors in the same output: a camera whose
 * microphone is dead sends a silent audio track.
 *
 * A stream with B-frames arrives over RTSP with no timestamp on its first packet (its decode time is unknown
 * until the next ones), which the MPEG-TS muxer refuses ("first pts and dts value must be set"): `setts` gives
 * that packet its decode time as presentation time. Packets that have one keep it.
 */
function copiedVideo(input: string[], o: BuildOptions, audio: string[]): string[] {
  return [
    ...base,
    '-skip_loop_filter', 'all',
    ...input,
    '-map', '0:v:0', ...(audio.length ? ['-map', '0:a:0'] : []),
    '-c:v', 'copy', '-bsf:v', 'setts=pts=if(eq(PTS\\,NOPTS)\\,DTS\\,PTS)',
    ...audio,
    ...segmentOutput(o.runDir, o.segmentSeconds),
    ...detectorOutput(`fps=${detectorsOf(o).sampleFps},${videoDetectors(detectorsOf(o))}`, audio.length ? audioDetectors(detectorsOf(o)) : undefined),
  ];
}

const detectorsOf = (o: BuildOptions): DetectorConfig => o.detectors ?? DETECTORS;

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
    '-ac', String(channels),
    '-ar', String(src.sampleRate ?? DEFAULTS.sampleRate),
    ...aac(src.bitrateKbps ?? DEFAULTS.audioKbpsPerChannel * channels),
    ...segmentOutput(o.runDir, o.segmentSeconds),
    ...detectorOutput(undefined, microphoneFilters(detectorsOf(o))),
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
  if (src.encoder === 'copy') return copiedVideo(input, o, []);
  return [
    ...base,
    ...input,
    '-map', '0:v:0',
    '-vf', encodedVideoFilters(o),
    ...videoEncoder(src, o.segmentSeconds),
    ...segmentOutput(o.runDir, o.segmentSeconds),
  ];
}

/** How the camera's audio goes into the segments: copied when MPEG-TS carries it, else transcoded to AAC. */
export function rtspAudio(camera: CameraStreams | undefined): { args: string[]; transcoded: Transcoded[] } {
  const codec = camera?.audio;
  if (codec === null) return { args: [], transcoded: [] };
  if (codec !== undefined && TS_AUDIO_CODECS.includes(codec)) return { args: ['-c:a', 'copy'], transcoded: [] };
  // Unknown (not probed) is transcoded too: AAC always fits, and a copy of a codec MPEG-TS refuses would fail.
  return { args: aac(DEFAULTS.audioKbpsPerChannel), transcoded: [{ stream: 'audio', from: codec ?? 'unknown', to: 'aac' }] };
}

/** The rtsp demuxer's input options: transport, timeouts and a short probe. Shared with the probe before a run. */
export function rtspInput(src: SourceConfig, rtspTimeoutSeconds?: number): string[] {
  if (!src.url) throw new Error(`source ${src.id}: the rtsp driver needs a url (rtsp://...)`);
  const timeoutUs = Math.round((rtspTimeoutSeconds ?? DEFAULTS.rtspTimeoutSeconds) * 1e6);
  const transport = src.transport ?? 'tcp';
  return [
    '-rtsp_transport', transport,
    ...(transport === 'udp' ? ['-buffer_size', String(DEFAULTS.udpBufferBytes)] : []),
    // Socket I/O timeout: a dead camera (no answer, or a stream that stops) ends the run instead of hanging it.
    '-timeout', String(timeoutUs),
    // Probe briefly: whatever is read while probing is written later in a burst, which would skew the run's
    // wall-clock anchor.
    '-analyzeduration', '1000000',
    '-i', src.url,
  ];
}

function rtsp(src: SourceConfig, o: BuildOptions): { args: string[]; transcoded: Transcoded[] } {
  const input = rtspInput(src, o.rtspTimeoutSeconds);
  const audio = rtspAudio(o.camera);
  return { args: copiedVideo(input, o, audio.args), transcoded: audio.transcoded };
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
  const ff = [ffmpeg, ...copiedVideo(input, o, [])];
  return ['-c', `trap '' INT; ${camera.map(shellQuote).join(' ')} | exec ${ff.map(shellQuote).join(' ')}`];
}

/** The command for one run of `src` writing into `o.runDir`. Throws on a config the driver cannot record. */
export function buildFfmpegCommand(src: SourceConfig, o: BuildOptions): FfmpegCommand {
  if (!Number.isInteger(o.segmentSeconds) || o.segmentSeconds < 1) {
    throw new Error(`segmentSeconds must be a whole number of seconds >= 1, got ${o.segmentSeconds}`);
  }
  const ffmpeg = o.ffmpegPath ?? 'ffmpeg';
  const primary = src.kind === 'camera' ? 'video' : 'audio';
  const ff = (args: string[], transcoded: Transcoded[] = []): FfmpegCommand => ({ command: ffmpeg, args, primary, transcoded });
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
    case 'rtsp': {
      const r = rtsp(src, o);
      return ff(r.args, r.transcoded);
    }
    case 'rpicam':
      return { command: 'sh', args: rpicam(src, o, ffmpeg), primary, transcoded: [] };
    case 'alsa':
      throw new Error(`source ${src.id}: a camera cannot use the alsa driver`);
  }
}
