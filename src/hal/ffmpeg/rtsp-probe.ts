/**
 * Asks an RTSP camera what it sends, with ffprobe, before each run: the audio codec decides whether the audio is
 * copied or transcoded (rtspAudio), and a camera that refuses (wrong transport, password or path) is explained
 * here in words that name the config key to change, instead of ffmpeg's "Protocol not supported".
 */
import { execFile } from 'node:child_process';
import type { SourceConfig } from '../../config/types.js';
import { DEFAULTS, rtspInput, type CameraStreams } from './args.js';

export class RtspProbeError extends Error {
  constructor(
    message: string,
    /** ffprobe's own last lines, for the log. */
    readonly detail: string,
  ) {
    super(message);
    this.name = 'RtspProbeError';
  }
}

/** Text with every RTSP URL's user name and password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/(rtsps?:\/\/)[^@/\s]*@/gi, '$1***@');
}

/** What a failed probe's stderr means, in a sentence that says what to change. */
export function explainRtspFailure(src: SourceConfig, stderr: string): string {
  const transport = src.transport ?? 'tcp';
  const other = transport === 'tcp' ? 'udp' : 'tcp';
  const where = `camera ${redactUrl(src.url ?? '')}`;
  if (/\b461\b/.test(stderr)) {
    return `the ${where} refused RTSP over ${transport.toUpperCase()} (461 Unsupported Transport): set "transport": "${other}" on source ${src.id} (recording.sources[].transport)`;
  }
  if (/\b401\b/.test(stderr)) return `the ${where} refused the user name or password (401 Unauthorized): check the user:password in source ${src.id}'s url`;
  if (/\b404\b/.test(stderr)) return `the ${where} has no stream at that path (404 Not Found): check the path in source ${src.id}'s url`;
  if (/Connection refused/i.test(stderr)) return `nothing answers RTSP at the ${where} (connection refused): check the camera's power, address and port`;
  if (/timed out|Immediate exit|Operation not permitted/i.test(stderr)) return `the ${where} did not answer in time: check the camera's power and network`;
  // What ffprobe says when the socket timeout ends a connection that was accepted and never answered.
  if (/Invalid data found when processing input/i.test(stderr)) {
    return `the ${where} did not answer RTSP in time (or is not an RTSP server): check the camera's power, address and port`;
  }
  if (/No route to host|Network is unreachable/i.test(stderr)) return `the ${where} cannot be reached (no route): check the network`;
  const last = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? 'no message';
  return `the ${where} could not be read: ${redactUrl(last)}`;
}

interface ProbeJson {
  streams?: { codec_type?: string; codec_name?: string }[];
}

/** The camera's first video and audio codec. Throws RtspProbeError saying what is wrong when it cannot be read. */
export function probeRtsp(src: SourceConfig, o: { ffprobePath?: string; rtspTimeoutSeconds?: number } = {}): Promise<CameraStreams> {
  const timeoutS = o.rtspTimeoutSeconds ?? DEFAULTS.rtspTimeoutSeconds;
  const args = ['-v', 'error', '-print_format', 'json', '-show_streams', ...rtspInput(src, timeoutS)];
  return new Promise((resolve, reject) => {
    // ffprobe's own socket timeout ends a silent camera; this one ends anything else that hangs.
    execFile(o.ffprobePath ?? 'ffprobe', args, { timeout: (2 * timeoutS + 5) * 1000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new RtspProbeError('cannot run ffprobe (apt-get install ffmpeg)', String(err)));
        return;
      }
      let streams: ProbeJson['streams'] = [];
      try {
        streams = (JSON.parse(stdout || '{}') as ProbeJson).streams ?? [];
      } catch {
        // judged below by what is missing
      }
      const video = streams.find((s) => s.codec_type === 'video')?.codec_name;
      if (err || !video) {
        const text = `${stderr}\n${err ? err.message : 'no video stream'}`;
        reject(new RtspProbeError(video || err ? explainRtspFailure(src, text) : `the camera ${redactUrl(src.url ?? '')} sends no video stream: check source ${src.id}'s url`, redactUrl(text.trim())));
        return;
      }
      resolve({ video, audio: streams.find((s) => s.codec_type === 'audio')?.codec_name ?? null });
    });
  });
}
