/** The validated config as the code sees it (defaults filled, paths absolute). Mirrors schema.ts. */
import type { INSTALLATIONS, SOURCE_DRIVERS } from './schema.js';

export type SourceDriver = (typeof SOURCE_DRIVERS)[number];
export type Installation = (typeof INSTALLATIONS)[number];

export interface SourceConfig {
  id: string;
  kind: 'camera' | 'microphone';
  driver: SourceDriver;
  label?: string;
  device?: string;
  url?: string;
  width?: number;
  height?: number;
  fps?: number;
  bitrateKbps?: number;
  encoder?: 'libx264' | 'h264_v4l2m2m' | 'copy';
  sampleRate?: number;
  channels?: number;
  frequency?: number;
  withAudio?: boolean;
  /** sim only: a lavfi graph replacing the generated picture or tone (tests: black, frozen, silent input). */
  simFilter?: string;
}

export interface RecordingConfig {
  segmentSeconds: number;
  preEventSeconds: number;
  expectedSessionMinutes: number;
  minBatteryPercent: number;
  announcement?: string;
  speakerDevice?: string;
  storageQuotaMB?: number;
  sources: SourceConfig[];
}

export interface UplinkConfig {
  broker: string;
  protocolVersion: 4 | 5;
  deadlineHours: number;
  alarmHoursBefore: number[];
  retentionHours: number;
  chunkKiB: number;
  window: number;
  maxBytesPerSecond?: number;
  answerTimeoutSeconds: number;
  outOfCoverageMinutes: number;
}

export interface Config {
  /** The file it was read from, for messages. */
  file: string;
  deviceId: string;
  installation: Installation;
  place?: string;
  stateDir: string;
  agency: { caCert: string; encryptionKey: string };
  recording: RecordingConfig;
  time: { source: 'ntp' | 'host' };
  control: { socket: string };
  uplink?: UplinkConfig;
}
