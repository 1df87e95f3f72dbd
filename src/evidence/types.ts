/** Ledger entry types. The body of each is specified in docs/evidence-format.md. */
export const ENTRY = {
  ledgerOpened: 'ledger.opened',
  certificateInstalled: 'certificate.installed',
  /** The agency encryption certificate the gateway wraps data keys for from this entry on (evidence-format.md §6). */
  encryptionInstalled: 'encryption.installed',
  serviceStarted: 'service.started',
  serviceStopped: 'service.stopped',
  sessionOpened: 'session.opened',
  sessionClosed: 'session.closed',
  sessionStatement: 'session.statement',
  announcementPlayed: 'announcement.played',
  /** The officers showed their credentials to the party (亮证, 004 规定 §7). */
  credentialsShown: 'credentials.shown',
  /** After a resume: the spoken explanation was heard, or not (src/recorder/explanation.ts). */
  explanationHeard: 'explanation.heard',
  explanationMissing: 'explanation.missing',
  segmentSealed: 'segment.sealed',
  segmentDeleted: 'segment.deleted',
  interruptionStarted: 'interruption.started',
  interruptionEnded: 'interruption.ended',
  configChanged: 'config.changed',
  consoleLogin: 'console.login',
  consoleLoginFailed: 'console.login_failed',
  clockStepped: 'clock.stepped',
  receiptReceived: 'receipt.received',
  alarmRaised: 'alarm.raised',
  uploadDeadlineExtended: 'upload.deadline_extended',
  eventMarked: 'event.marked',
  /** The agency's officer roster the gateway confirms officers with from this entry on (evidence-format.md §16). */
  rosterInstalled: 'roster.installed',
  /** A PIN confirmation refused: wrong PIN, unknown officer, expired, throttled (evidence-format.md §16.3). */
  officerConfirmFailed: 'officer.confirm_failed',
} as const;

export type EntryType = (typeof ENTRY)[keyof typeof ENTRY];

export interface Officer {
  name: string;
  /** 执法证号: the officer's enforcement certificate number. */
  badge: string;
}

export type ClockSource = 'gps' | 'ntp' | 'rtc' | 'system';

export interface ClockState {
  source: ClockSource;
  synced: boolean;
  /** Estimated offset from true time in milliseconds, when known. */
  offsetMs?: number;
  /**
   * Synchronised by the installation's word, not by a measurement: config time.assumeSynchronised (time.source
   * "host" where the OS cannot tell, e.g. a container, tests and the demo). Only ever `true` when present.
   */
  assumed?: true;
  /**
   * The system clock minus the gateway's own time (ms), when they differ: after a clock step nothing confirmed,
   * the gateway keeps counting its times on the monotonic clock from its last trusted reading (src/hal/time/timeline.ts).
   */
  heldMs?: number;
}

export interface GpsFix {
  lat: number;
  lon: number;
  alt?: number;
  /** 2 = 2D fix, 3 = 3D fix (gpsd's mode). */
  mode: number;
  /** Horizontal error estimate in metres, when gpsd reports one. */
  eph?: number;
  time: string;
}

export type SourceKind = 'camera' | 'microphone';

/** What the session contributes to every manifest of its segments. */
export interface SessionContext {
  sessionId: string;
  matter: string;
  caseRef: string;
  officers: Officer[];
  party?: string;
  place?: string;
}

/** evidence-format.md §7.2 (intl) and §17.7 (gm); segment-scheme.ts makes and reads both. */
export interface SegmentEncryption {
  /** AES-256-GCM, or SM4-CTR with HMAC-SM3 over IV || C (gm). */
  alg: 'A256GCM' | 'SM4-CTR-HMAC-SM3';
  iv: string;
  /** RSA-OAEP with SHA-256 and MGF1-SHA-256, or SM2 encryption (GB/T 32918.4, DER of GM/T 0009). */
  keyWrap: 'RSA-OAEP-256' | 'SM2-ENC';
  wrappedKey: string;
  /** The hash (SHA-256 for an RSA key, SM3 for an SM2 key) of the agency public key's DER SubjectPublicKeyInfo. */
  agencyKeyId: string;
}

/** A size and a hash named by its algorithm: SHA-256 in an intl manifest, SM3 in a gm one (segment-scheme.ts). */
export type HashedSize = { size: number; sha256: string } | { size: number; sm3: string };

/** The body of a segment.sealed entry. */
export interface SegmentManifest extends SessionContext {
  segment: string;
  file: string;
  source: { id: string; kind: SourceKind };
  seq: number;
  start: string;
  end: string;
  clock: ClockState;
  gps: GpsFix | null;
  plain: HashedSize;
  stored: HashedSize;
  enc: SegmentEncryption;
  container: 'mpegts';
  /** First segment after a declared resume: where the reason for the interruption is expected to be spoken (whether
   * it was is the explanation.heard or explanation.missing entry). */
  explanation?: boolean;
  /** Recorded before the session started, claimed from the pre-event buffer. */
  preEvent?: boolean;
  /** Streams the gateway re-encoded instead of keeping what the device sent (absent: none). */
  transcoded?: TranscodedStream[];
}

/** A re-encoded stream of a segment, in ffmpeg's codec names: e.g. G.711 A-law camera audio `pcm_alaw` to `aac`. */
export interface TranscodedStream {
  stream: 'audio' | 'video';
  from: string;
  to: string;
}
