/** The factory the composition root uses: a capture source for each configured source, and recovery of old runs. */
import type { SourceConfig } from '../config/types.js';
import type { CaptureSource, SegmentFile } from './capture.js';
import type { Logger } from '../util/log.js';
import { FfmpegSource } from './ffmpeg/source.js';
import { recoverRuns } from './ffmpeg/recover.js';
import { OverlayLabel, type OverlayFiles } from './ffmpeg/overlay.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RecgwError } from '../util/errors.js';

export interface SourceEnv {
  spoolDir: string;
  segmentSeconds: number;
  log: Logger;
  /** Time and identity on the picture of cameras the gateway encodes. */
  overlay?: OverlayFiles;
}

export function createCaptureSource(config: SourceConfig, env: SourceEnv): CaptureSource {
  return new FfmpegSource({ config, spoolDir: env.spoolDir, segmentSeconds: env.segmentSeconds, log: env.log, ...(env.overlay ? { overlay: env.overlay } : {}) });
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
