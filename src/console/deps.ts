/**
 * What the console needs from the rest of the gateway, as small role interfaces: the composition root builds
 * them (src/console/gateway-deps.ts does it from the gateway's parts) and tests build them from real pieces.
 * None of them can reach a recording's contents: the console only ever sees states, events and queue rows.
 */
import type { CertIssue } from '../pki/identity.js';
import type { Db } from '../state/db.js';
import type { Logger } from '../util/log.js';
import type { ConsoleConfig } from '../config/types.js';
import type { RecorderStatus } from '../recorder/recorder.js';
import type { CheckResult } from '../recorder/preflight.js';
import type { QueueSummary } from '../uplink/queue.js';
import type { Alarm } from '../uplink/alarms.js';
import type { Officer } from '../evidence/types.js';
import type { PromptCode, SessionSummary, StartRequest } from '../recorder/recorder.js';
import type { Confirmation, OfficerPin } from '../officers/auth.js';

/** The recorder's status plus the parts beside it (`uplink`, `panel`, `ups`, `ptz`, `gpsd`), as `recgw status` shows it. */
export type ConsoleStatus = RecorderStatus & {
  uplink?: unknown;
  gpsd?: unknown;
  panel?: unknown;
  ups?: unknown;
  ptz?: unknown;
  /** IP cameras' ONVIF state (src/app/onvif-cameras.ts). */
  onvif?: unknown;
  /** Config keys changed since the start that wait for a restart. */
  config?: { restartPending: string[] };
};

export interface StatusProvider {
  /** The gateway's whole status now. */
  status(): Promise<ConsoleStatus>;
}

export interface PreflightRunner {
  /** Run the pre-flight checks without starting a session (the self-test). */
  preflight(): Promise<CheckResult[]>;
}

/** One ledger event as the console lists it: never a segment's contents, only what the entry says. */
export interface EventRow {
  seq: number;
  time: string;
  type: string;
  /** The entry's body without certificates, keys, signatures and file locations; long strings shortened. */
  body: Record<string, unknown>;
}

export interface LedgerAccess {
  /** Append a signed entry (logins, failed logins, changes). */
  append(type: string, body: Record<string, unknown>): void;
  /** Newest first, below `before` (exclusive) when given; segment manifests only when asked for. */
  events(q: { before?: number; limit: number; segments: boolean }): EventRow[];
}

export interface InterruptionRow {
  sessionId: string;
  caseRef: string;
  reason: string;
  origin: string;
  start: string;
  end: string | null;
  text: string | null;
}

export interface InterruptionLog {
  /** Interruptions of recent sessions, newest first. */
  interruptions(limit: number): InterruptionRow[];
}

export interface CertSummary {
  subject: string;
  issuer: string;
  serial: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
}

export interface Enrolment {
  /** The CSR for the device key (the key is made if there is none; an existing one is kept). */
  csr(): string;
  /** Check and install a signed certificate; throws a RecgwError naming every problem. Takes effect at restart. */
  install(certPem: string): CertSummary;
  /** The installed certificate, and what is wrong with it (empty when the gateway may record with it). */
  /** The installed certificate and what is wrong with it (`kind` names it in any language, `text` in English). */
  current(): { cert: CertSummary | null; problems: { kind: CertIssue['kind'] | 'not-enrolled' | 'tls-missing' | 'tls-refused'; text: string }[] };
}

export interface QueueItem {
  name: string;
  size: number;
  deadlineMs: number;
}

export interface UploadQueueView {
  summary(): QueueSummary;
  /** Items without a receipt, earliest deadline first. */
  items(limit: number): QueueItem[];
  /** Deadline alarms standing now (raised, item still without a receipt). */
  alarms(): Alarm[];
  /** Whether the broker link is up. */
  connected(): boolean;
}

export type { StillSource } from '../hal/ffmpeg/still.js';
import type { StillSource } from '../hal/ffmpeg/still.js';

export interface StillGrabber {
  sources(): StillSource[];
  /** One JPEG frame of a camera, in memory only. */
  grab(sourceId: string): Promise<Buffer>;
}

export type { FoundCamera, LanInterface } from '../hal/onvif/discovery.js';
import type { FoundCamera, LanInterface } from '../hal/onvif/discovery.js';

export interface CameraFinder {
  /** The LAN interfaces a search can go out on. */
  interfaces(): LanInterface[];
  /** Search the LAN (WS-Discovery) and read each camera that answers with the login given. */
  find(o: { interface?: string; user?: string; password?: string }): Promise<FoundCamera[]>;
}

export type { ConfigChange } from '../config/diff.js';

export interface ConfigFileAccess {
  /** The installation's config file, edited in place. */
  file: string;
  /** Told after a change was written: the gateway applies the keys that may change while running. */
  onApplied?(): unknown;
}

/** A session that lacks its written statement, with the officers who may sign it. */
export interface LackingSession {
  sessionId: string;
  caseRef: string;
  matterLabel: string;
  start: string;
  end: string | null;
  officers: Officer[];
  /** It ended with an interruption that never resumed (terminated), or a resume was not explained aloud. */
  why: 'terminated' | 'unexplained';
}

export interface Prompt {
  code: PromptCode;
  zh: string;
  en: string;
}

/** The recorder's interface as the console drives it: the calls the panel and the control socket make (the Recorder satisfies it). */
export interface SessionRecorder {
  startSession(req: StartRequest): Promise<{ session: SessionSummary; forced: CheckResult[] }>;
  pauseSession(reason: string, text?: string): Promise<SessionSummary>;
  resumeSession(): Promise<SessionSummary>;
  stopSession(o?: { confirmations?: Confirmation[] }): Promise<SessionSummary>;
  statement(text: string, officers: Officer[], sessionId?: string, confirmations?: Confirmation[]): Promise<SessionSummary>;
  credentialsShown(via: 'console', officers?: Officer[]): Promise<SessionSummary>;
  on(event: 'prompt', listener: (p: Prompt) => void): unknown;
  off(event: 'prompt', listener: (p: Prompt) => void): unknown;
}

/** Session control from the console (src/console/routes/session.ts): the recorder, and the officers' PIN check. */
export interface SessionControl {
  recorder: SessionRecorder;
  /** Whether officers confirm with PINs (a roster is, or was, installed: OfficerAuth.required). */
  pinsRequired(): boolean;
  /** Check each PIN given, through the gateway's OfficerAuth (via "console", throttled per client address); officers without one are left out. */
  confirm(officers: OfficerPin[], channel: string): Promise<Confirmation[]>;
  /** Sessions lacking their written statement, oldest first. */
  lacking(): LackingSession[];
}

export interface ConsoleDeps {
  deviceId: string;
  /** The installation's time zone (config time.zone, an IANA name): pages show times in it, the API in UTC. */
  zone: string;
  stateDir: string;
  /** The device identity files and the agency CA (for serving TLS with the device certificate). */
  identity: { key: string; cert: string };
  settings: ConsoleConfig;
  db: Db;
  log: Logger;
  status: StatusProvider;
  preflight: PreflightRunner;
  ledger: LedgerAccess;
  interruptions: InterruptionLog;
  config: ConfigFileAccess;
  enrolment: Enrolment;
  /** Absent when no uplink is configured. */
  queue?: UploadQueueView;
  still: StillGrabber;
  /** Finding IP cameras on the LAN through ONVIF (absent: the page says the console cannot). */
  cameras?: CameraFinder;
  /** Starting, pausing, resuming and stopping sessions, 亮证 and statements (absent: the console only shows them). */
  sessions?: SessionControl;
  /** Whether a session is open (recording or paused): the aiming aid is refused then. */
  sessionOpen(): Promise<boolean>;
  now?: () => number;
  /** Login throttling; tests shorten it. */
  throttle?: { freeFailures?: number; baseMs?: number; maxMs?: number };
}
