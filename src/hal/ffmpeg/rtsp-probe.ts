/**
 * Asks an RTSP camera what it sends, with ffprobe, before each run: the audio codec decides whether the audio is
 * copied or transcoded (rtspAudio), and a camera that refuses (wrong transport, password or path) is explained by
 * explain.ts's rules in a sentence that names the config key to change, instead of ffmpeg's "Protocol not supported",
 * and in the same rule's words for the record.
 */
import { execFile } from 'node:child_process';
import type { SourceConfig } from '../../config/types.js';
import { DEFAULTS, rtspInput, type CameraStreams } from './args.js';
import { recognise, subject } from './explain.js';
import { redactUrl } from './redact.js';

export class RtspProbeError extends Error {
  constructor(
    message: string,
    /** ffprobe's own last lines, for the log. */
    readonly detail: string,
    /** The words for the record, from the same rule as the message, when explain.ts knows the failure. */
    readonly said?: { cause: string; words: string },
  ) {
    super(message);
    this.name = 'RtspProbeError';
  }
}


/**
 * What a failed probe's output means, by explain.ts's rules: the message says what happened and what to change,
 * `said` the same rule's words for the record.
 */
export function probeFailure(src: SourceConfig, stderr: string): RtspProbeError {
  const who = `the camera ${redactUrl(src.url ?? '')}`;
  const detail = redactUrl(stderr.trim());
  const rule = recognise(stderr, { probe: true });
  if (rule) return new RtspProbeError(`${rule.problem(who, src)}: ${rule.fix(src)}`, detail, { cause: rule.cause, words: rule.words(subject(src), src) });
  const last = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? 'no message';
  return new RtspProbeError(`${who} could not be read: ${redactUrl(last)}`, detail);
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
      if (err) {
        reject(probeFailure(src, `${stderr}\n${err.message}`));
        return;
      }
      if (!video) {
        reject(new RtspProbeError(`the camera ${redactUrl(src.url ?? '')} sends no video stream: check source ${src.id}'s url`, redactUrl(`${stderr}\nno video stream`.trim())));
        return;
      }
      resolve({ video, audio: streams.find((s) => s.codec_type === 'audio')?.codec_name ?? null });
    });
  });
}
