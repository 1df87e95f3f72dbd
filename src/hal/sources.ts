/** The factory the composition root uses: a capture source for each configured source, and recovery of old runs. */
import type { DetectorConfig, SourceConfig } from '../config/types.js';
import type { CaptureSource, SegmentFile } from './capture.js';
import type { Logger } from '../util/log.js';
import { FfmpegSource } from './ffmpeg/source.js';
import { recoverRuns } from './ffmpeg/recover.js';
import { OverlayLabel, type OverlayFiles } from './ffmpeg/overlay.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RecgwError } from '../util/errors.js';
import { MAX_GOP_SECONDS } from './ffmpeg/args.js';
import type { Timeline } from './time/timeline.js';

export interface SourceEnv {
  spoolDir: string;
  segmentSeconds: number;
  detectors?: DetectorConfig;
  log: Logger;
  /** Time and identity on the picture of cameras the gateway encodes. */
  overlay?: OverlayFiles;
  /** The gateway's time, which segments are dated in. */
  timeline?: Timeline;
}

export function createCaptureSource(config: SourceConfig, env: SourceEnv): CaptureSource {
  return new FfmpegSource({
    config,
    spoolDir: env.spoolDir,
    segmentSeconds: env.segmentSeconds,
    log: env.log,
    ...(env.overlay ? { overlay: env.overlay } : {}),
    ...(env.detectors ? { detectors: env.detectors } : {}),
    ...(env.timeline ? { timeline: env.timeline } : {}),
  });
}

/**
 * The label file of the picture overlay, under the spool, when the overlay is on; a missing font stops the start
 * with the fix.
 */
export function openOverlay(o: { enabled: boolean; font: string }, spoolDir: string): { files: OverlayFiles; label: OverlayLabel } | undefined {
  if (!o.enabled) return undefined;
  if (!existsSync(o.font)) {
    throw new RecgwError(
      'config',
      `recording.overlay.font ${o.font} does not exist: install it (apt-get install fonts-wqy-microhei), name another font with CJK and Latin glyphs, or set recording.overlay.enabled to false`,
    );
  }
  const label = new OverlayLabel(join(spoolDir, 'overlay-label.txt'));
  return { files: { font: o.font, label: label.path }, label };
}

export function recoverSourceRuns(spoolDir: string, sourceId: string, log: Logger): Promise<SegmentFile[]> {
  return recoverRuns(spoolDir, sourceId, { log });
}

/**
 * How much later than its segment time a segment of this source may end: video the camera encodes is cut at its
 * own key frames, so a segment lasts until the first key frame after its time (up to a GOP more). 0 where the
 * gateway encodes and forces key frames at the segment times.
 */
export function longestGopSeconds(config: SourceConfig): number {
  if (config.kind !== 'camera') return 0;
  if (config.driver === 'rtsp' || (config.driver === 'v4l2' && config.encoder === 'copy')) return MAX_GOP_SECONDS;
  // rpicam-vid is told to make a key frame every second.
  return config.driver === 'rpicam' ? 1 : 0;
}
