/** `recgw session ...` and `recgw status`: officers and tools acting on the running gateway through its control socket. */
import { loadConfig } from '../config/load.js';
import { call } from '../control/client.js';
import { parseOfficer } from '../control/protocol.js';
import type { RecorderStatus, SessionSummary } from '../recorder/recorder.js';
import type { GpsdStatus } from '../hal/gps/gpsd-client.js';
import { describeFixOffset } from '../hal/gps/fix-time.js';
import type { CheckResult } from '../recorder/preflight.js';
import { reasonByCode } from '../evidence/vocabulary.js';
import type { ClockState } from '../evidence/types.js';
import { RecgwError } from '../util/errors.js';
import { parse } from './args.js';
import type { Io } from './io.js';
import { readPins } from './pin-input.js';
import type { Officer } from '../evidence/types.js';

const USAGE = `recgw session start --matter <type> --case <ref> --officer "<name>:<执法证号>" [--officer ...] [--party ...] [--place ...] [--force]
       recgw session pause --reason <code> [--text ...]
       recgw session resume
       recgw session stop [--officer A --officer B]
       recgw session statement --text ... --officer A --officer B [--session ID]
       recgw session credentials [--officer A ...]   the officers showed their credentials (亮证); default: all of the session's
  (each also takes --config FILE or --socket PATH)
  With an officer roster installed, each --officer confirms with their PIN: asked at the terminal without echo, or
  read from standard input, one line per officer in order. An early stop (an interruption still open) needs two.`;

function socketPath(values: { config?: string | undefined; socket?: string | undefined }): string {
  if (values.socket) return values.socket;
  if (values.config) return loadConfig(values.config).control.socket;
  throw new RecgwError('usage', `--config FILE (or --socket PATH) is required to reach the gateway\nusage: ${USAGE}`);
}

function describeSession(s: SessionSummary): string {
  const lines = [
    `session ${s.sessionId}: ${s.matterLabel} (${s.matter}), case ${s.caseRef || '(none)'}, ${s.state}${s.closedBy ? ` (${s.closedBy})` : ''}`,
    `  officers: ${s.officers.map((o) => `${o.name} (${o.badge})`).join(', ')}`,
    `  started ${s.start}${s.end ? `, ended ${s.end}` : ''}`,
  ];
  for (const i of s.interruptions) {
    const r = reasonByCode(i.reason);
    lines.push(`  interruption ${r ? `${r.zh} ${r.en}` : i.reason} (${i.origin}) ${i.start} - ${i.end ?? 'ongoing'}${i.text ? `: ${i.text}` : ''}`);
  }
  if (s.lacksStatement) lines.push('  LACKS its written statement: two officers must confirm one (recgw session statement)');
  return lines.join('\n');
}

const common = { config: { type: 'string' }, socket: { type: 'string' }, json: { type: 'boolean' } } as const;

/** The officers as the request carries them: with each one's PIN when the gateway's officers confirm with PINs. */
async function withPins(socket: string, officers: Officer[]): Promise<(Officer & { pin?: string })[]> {
  if (officers.length === 0) return officers;
  const st = await call<RecorderStatus>(socket, 'status');
  if (!st.officers?.required) return officers;
  const pins = await readPins(officers);
  return officers.map((o, i) => ({ ...o, pin: pins[i]! }));
}

export async function sessionCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const out = (json: boolean | undefined, value: unknown, text: string): number => {
    io.out(json ? JSON.stringify(value) + '\n' : text + '\n');
    return 0;
  };
  switch (sub) {
    case 'start': {
      const { values } = parse(
        rest,
        { ...common, matter: { type: 'string' }, case: { type: 'string' }, officer: { type: 'string', multiple: true }, party: { type: 'string' }, place: { type: 'string' }, force: { type: 'boolean' } },
        USAGE,
      );
      if (!values.matter) throw new RecgwError('usage', `--matter is required\nusage: ${USAGE}`);
      const officers = (values.officer ?? []).map(parseOfficer);
      if (officers.length === 0) throw new RecgwError('usage', `at least one --officer "name:执法证号" is required\nusage: ${USAGE}`);
      const socket = socketPath(values);
      const r = await call<{ session: SessionSummary; forced: CheckResult[] }>(socket, 'session.start', {
        matter: values.matter,
        caseRef: values.case ?? '',
        officers: await withPins(socket, officers),
        ...(values.party ? { party: values.party } : {}),
        ...(values.place ? { place: values.place } : {}),
        force: values.force === true,
      });
      const forced = r.forced.length > 0 ? `\nFORCED despite failed checks (recorded in the ledger): ${r.forced.map((c) => `${c.check}: ${c.detail}`).join('; ')}` : '';
      return out(values.json, r, `recording started\n${describeSession(r.session)}${forced}`);
    }
    case 'pause': {
      const { values } = parse(rest, { ...common, reason: { type: 'string' }, text: { type: 'string' } }, USAGE);
      if (!values.reason) throw new RecgwError('usage', `--reason is required\nusage: ${USAGE}`);
      const s = await call<SessionSummary>(socketPath(values), 'session.pause', { reason: values.reason, ...(values.text ? { text: values.text } : {}) });
      return out(values.json, s, `recording paused\n${describeSession(s)}`);
    }
    case 'resume': {
      const { values } = parse(rest, common, USAGE);
      const s = await call<SessionSummary>(socketPath(values), 'session.resume');
      const st = await call<RecorderStatus>(socketPath(values), 'status');
      const until = st.listening ? ` the gateway listens until ${st.listening.until}` : '';
      return out(values.json, s, `recording resumed: 请口述中断原因 (state the reason for the interruption aloud now;${until})\n${describeSession(s)}`);
    }
    case 'stop': {
      const { values } = parse(rest, { ...common, officer: { type: 'string', multiple: true } }, USAGE);
      const socket = socketPath(values);
      const officers = (values.officer ?? []).map(parseOfficer);
      const s = await call<SessionSummary>(socket, 'session.stop', officers.length > 0 ? { officers: await withPins(socket, officers) } : {});
      return out(values.json, s, `recording stopped\n${describeSession(s)}`);
    }
    case 'statement': {
      const { values } = parse(rest, { ...common, text: { type: 'string' }, officer: { type: 'string', multiple: true }, session: { type: 'string' } }, USAGE);
      const socket = socketPath(values);
      const s = await call<SessionSummary>(socket, 'session.statement', {
        text: values.text ?? '',
        officers: await withPins(socket, (values.officer ?? []).map(parseOfficer)),
        ...(values.session ? { sessionId: values.session } : {}),
      });
      return out(values.json, s, `statement recorded\n${describeSession(s)}`);
    }
    case 'credentials': {
      const { values } = parse(rest, { ...common, officer: { type: 'string', multiple: true } }, USAGE);
      const officers = (values.officer ?? []).map(parseOfficer);
      const s = await call<SessionSummary>(socketPath(values), 'session.credentials', officers.length > 0 ? { officers } : {});
      return out(values.json, s, `亮证 recorded (the officers showed their credentials)\n${describeSession(s)}`);
    }
    default:
      throw new RecgwError('usage', `unknown session subcommand ${JSON.stringify(sub ?? '')}\nusage: ${USAGE}`);
  }
}

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, common, 'recgw status --config FILE [--json]');
  const st = await call<RecorderStatus & { uplink?: UplinkStatus; gpsd?: GpsdStatus; config?: { restartPending: string[] } }>(socketPath(values), 'status');
  if (values.json) {
    io.out(JSON.stringify(st) + '\n');
    return 0;
  }
  const lines = [`gateway ${st.deviceId}`];
  lines.push(st.session ? describeSession(st.session) : 'no session');
  for (const s of st.sources) {
    lines.push(`  source ${s.id} (${s.kind}): ${s.producing ? 'producing' : s.running ? 'starting' : 'stopped'}${s.down ? `, DOWN since ${s.down.since}: ${s.down.detail}` : ''}${s.picture !== 'ok' ? `, ${s.picture}` : ''}`);
  }
  lines.push(`  storage: ${Math.round(st.storage.freeBytes / 1e6)} MB free, ${Math.round(st.storage.usedBytes / 1e6)} MB used${st.storage.quotaBytes ? ` of ${Math.round(st.storage.quotaBytes / 1e6)} MB quota` : ''}${st.storage.full ? ' - FULL' : ''}`);
  lines.push(`  clock: ${describeClock(st.clock)}`);
  lines.push(`  sealing queue: ${st.sealing.pending}`);
  lines.push(`  officers: ${describeOfficers(st.officers)}`);
  if (st.listening) lines.push(`  listening for the spoken reason of the interruption until ${st.listening.until} (请口述中断原因)`);
  if (st.gpsd) lines.push(...describeGps(st.gpsd));
  if (st.uplink) lines.push(describeUplink(st.uplink));
  if (st.config?.restartPending.length) lines.push(`  config changed; a restart of the service applies: ${st.config.restartPending.join(', ')}`);
  for (const l of st.lackingStatement) lines.push(`  session ${l.sessionId} (case ${l.caseRef}) lacks its written statement`);
  io.out(lines.join('\n') + '\n');
  return 0;
}

function describeOfficers(o: RecorderStatus['officers'] | undefined): string {
  if (!o?.required) return 'no roster: officers do not confirm with PINs';
  if (!o.roster) return 'NO ROSTER, though this gateway used one before: sessions cannot start until agency.roster names the current one';
  return `confirm with PINs against the roster of ${o.roster.officers} officer(s) from ${o.roster.agency}, valid until ${o.roster.notAfter} (roster ${o.roster.sha256.slice(0, 16)})`;
}

function describeGps(g: GpsdStatus): string[] {
  const fix = g.fix ? `fix ${g.fix.lat.toFixed(5)}, ${g.fix.lon.toFixed(5)} (${g.fix.mode}D) at ${g.fix.time}` : 'no fix';
  const lines = [`  gps: ${g.connected ? `gpsd ${g.address}` : `NOT connected to gpsd ${g.address}${g.lastError ? ` (${g.lastError})` : ''}`}; ${fix}`];
  const r = g.fixTime.refusing;
  if (r) {
    lines.push(
      `  gps: REFUSING fixes since ${r.since}: their time is ${describeFixOffset(r.offsetMs)} (latest ${r.lastFixTime}; tolerance ${g.fixTime.toleranceMs / 1000} s); manifests get no position. Check the receiver's time (week-number rollover?) and the gateway clock`,
    );
  } else if (g.fixTime.refused > 0) lines.push(`  gps: ${g.fixTime.refused} fix(es) refused for their time since start; none now`);
  return lines;
}

interface UplinkStatus {
  broker: string;
  connected: boolean;
  queue: { entries: number; files: number; bytes: number };
  nextDeadline: string | null;
  alarms: { item: string; deadline: string; level: string }[];
}

function describeUplink(u: UplinkStatus): string {
  const q = u.queue;
  const lines = [
    `  uplink: ${u.connected ? 'connected to' : 'NOT connected to'} ${u.broker}; awaiting receipt: ${q.files} segment(s), ${(q.bytes / 1e6).toFixed(1)} MB, ${q.entries} ledger entries${u.nextDeadline ? `; next deadline ${u.nextDeadline}` : ''}`,
  ];
  const missed = u.alarms.filter((a) => a.level === 'missed').length;
  if (u.alarms.length > 0) lines.push(`  upload alarms: ${u.alarms.length} item(s) near or past their deadline${missed ? `, ${missed} MISSED` : ''}`);
  return lines.join('\n');
}

/** The clock's line of `recgw status`: the source, whether synchronised (measured or assumed), a held step. */
function describeClock(c: ClockState): string {
  const sync = c.assumed ? 'ASSUMED synchronised (time.assumeSynchronised; the OS does not confirm it)' : c.synced ? 'synchronised' : 'NOT synchronised';
  const held =
    c.heldMs === undefined
      ? ''
      : `; the system clock was stepped ${Math.round(c.heldMs / 1000)} s away and the gateway keeps its own time until a clock source confirms the new one`;
  return `${c.source}, ${sync}${held}`;
}
