/** The factory the composition root uses: a capture source for each configured source, and recovery of old runs. */
import type { SourceConfig } from '../config/types.js';
import type { CaptureSource, SegmentFile } from './capture.js';
import type { Logger } from '../util/log.js';
import { FfmpegSource } from './ffmpeg/source.js';
import { recoverRuns } from './ffmpeg/recover.js';

export interface SourceEnv {
  spoolDir: string;
  segmentSeconds: number;
  log: Logger;
}

export function createCaptureSource(config: SourceConfig, env: SourceEnv): CaptureSource {
  return new FfmpegSource({ config, spoolDir: env.spoolDir, segmentSeconds: env.segmentSeconds, log: env.log });
}

export function recoverSourceRuns(spoolDir: string, sourceId: string, log: Logger): Promise<SegmentFile[]> {
  return recoverRuns(spoolDir, sourceId, { log });
}
