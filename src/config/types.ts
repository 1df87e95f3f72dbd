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
  /** rtsp only: the camera's ONVIF service (src/hal/onvif). */
  onvif?: OnvifSourceConfig;
  /** rtsp only: how RTP travels (default tcp). */
  transport?: 'tcp' | 'udp';
}

export interface OnvifSourceConfig {
  url?: string;
  user: string;
  password: string;
  setClock: boolean;
  timeZone: string;
  overlay: boolean;
  overlayText?: string;
  gopSeconds?: number;
}

/** When the detectors call a picture black or frozen and a microphone dead. Mirrors schema.ts `detectors`. */
export interface DetectorConfig {
  blackSeconds: number;
  blackPixelThreshold: number;
  freezeSeconds: number;
  freezeNoise: number;
  sampleFps: number;
  silenceDb: number;
  silenceSeconds: number;
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
  /** Time and identity on the picture of encoded cameras (src/hal/ffmpeg/overlay.ts). */
  overlay: { enabled: boolean; font: string };
  /** Filled from the schema defaults when loaded; absent in hand-built configs (the built-in defaults apply). */
  detectors?: DetectorConfig;
  /** Listening for the spoken explanation after a resume; defaults as for detectors (src/recorder/explanation.ts). */
  explanation?: ExplanationConfig;
}

/** Mirrors schema.ts `explanation`. */
export interface ExplanationConfig {
  windowSeconds: number;
  levelDb: number;
  marginDb: number;
  minSpeechSeconds: number;
  minModulationDb: number;
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

export interface SerialPortConfig {
  path: string;
  baudRate: number;
}

export interface PtzConfig extends SerialPortConfig {
  address: number;
  source: string;
  preset?: number;
}

export type InputAction = 'toggle-session' | 'start-session' | 'stop-session' | 'mark-event' | 'none';

export interface GpioConfig {
  backend: 'sysfs' | 'sim';
  lamp?: number;
  buzzer?: number;
  inputs: { pin: number; name: 'record-button' | 'door' | 'ignition' | 'lightbar'; action: InputAction; activeLow: boolean; debounceMs: number }[];
  session?: { matter: string; officers: string[] };
}

export interface GpsConfig {
  gpsd: string;
  /** A fix further than this from the gateway clock is refused (src/hal/gps/fix-time.ts). */
  fixTimeToleranceMs: number;
  homeBase?: { lat: number; lon: number; radiusM: number };
}

/** The UPS's limits and, for a UPS that Network UPS Tools serves, upsd (src/app/power.ts). Mirrors schema.ts `power`. */
export interface PowerConfig {
  lowBatteryPercent: number;
  lowRuntimeSeconds: number;
  nut?: { host: string; port: number; name: string; user?: string; password?: string; pollSeconds: number };
}

/** The local web console (src/console, docs/console.md). */
export interface ConsoleConfig {
  /** host:port, e.g. 0.0.0.0:8443 or [::]:8443. */
  listen: string;
  /** CIDR networks allowed to connect (LAN only by default). */
  allowFrom: string[];
  tls: 'device' | 'self-signed';
  sessionMinutes: number;
  language: 'zh-CN' | 'en';
}

export interface Config {
  /** The file it was read from, for messages. */
  file: string;
  deviceId: string;
  installation: Installation;
  place?: string;
  stateDir: string;
  /**
   * `encryptionCert`: the agency encryption certificate (src/pki/encryption-cert.ts checks it at start); `roster`: the
   * officer roster (src/officers/roster.ts), when officers confirm with their PINs.
   */
  agency: {
    caCert: string;
    encryptionCert: string;
    roster?: string;
    /** A gm agency's transport CA (evidence-format.md §17.8): the broker's TLS CA and the issuer of the device's TLS certificate. */
    transportCaCert?: string;
  };
  recording: RecordingConfig;
  /** `zone`: the IANA zone people read times in (src/util/local-time.ts); everything machines read stays UTC. */
  time: {
    source: 'ntp' | 'gps' | 'rtc' | 'host';
    maxOffsetMs: number;
    stepThresholdMs: number;
    /** Only with source "host": synchronised by the installation's word when the OS cannot confirm it. */
    assumeSynchronised: boolean;
    zone: string;
  };
  control: { socket: string };
  uplink?: UplinkConfig;
  gps?: GpsConfig;
  gpio?: GpioConfig;
  serial?: { panel?: SerialPortConfig; ups?: SerialPortConfig; ptz?: PtzConfig[] };
  /** Filled from the schema defaults when loaded; absent in hand-built configs (the built-in defaults apply). */
  power?: PowerConfig;
  /** Absent: no console is served. */
  console?: ConsoleConfig;
}
