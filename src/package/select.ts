/**
 * Which ledger entries and segments of a store go on an evidence disc: the chosen sessions (or, without sessions,
 * every session with footage in the time range), their segments (only those overlapping --from/--to when given),
 * every other entry of those sessions (opened, closed, interruptions, statements), and the certificate entries the
 * device signed them under. Reads each device's ledger.jsonl once, through the store (a folder or a bucket); nothing
 * is decrypted here.
 */
import { lineHash, parseLine, type LedgerEntry } from '../evidence/entry.js';
import { LEDGER_FILE } from '../evidence/head.js';
import { ENTRY, type SegmentManifest, type SessionContext } from '../evidence/types.js';
import type { EvidenceStore } from '../store/store.js';
import { ledgerLines } from '../evidence/ledger-lines.js';
import { RecgwError } from '../util/errors.js';

export interface Selection {
  /** Session IDs; empty: every session with a segment in [from, to]. */
  sessions: string[];
  /** Milliseconds since the epoch; a segment is taken when it overlaps [from, to]. */
  from?: number;
  to?: number;
}

export interface PickedEntry {
  seq: number;
  /** The ledger line exactly, without its newline. */
  line: string;
  hash: string;
  entry: LedgerEntry;
}

export interface PickedSession {
  deviceId: string;
  opened: SessionContext & { start?: string; sources?: string[] };
  closed?: { end?: string; reason?: string };
}

export interface DevicePick {
  deviceId: string;
  /** The device's folder in the store (a name: `room-1`). */
  folder: string;
  /** Every entry that goes on the disc, certificate entries included, by seq. */
  entries: PickedEntry[];
  /** The manifests of the segments to decrypt, by seq. */
  segments: SegmentManifest[];
  sessions: PickedSession[];
}

const CERT_TYPES: ReadonlySet<string> = new Set([ENTRY.ledgerOpened, ENTRY.certificateInstalled]);

/** The picks of every device folder with something chosen; throws naming what was asked for and not found. */
export async function selectEvidence(store: EvidenceStore, sel: Selection): Promise<DevicePick[]> {
  if (sel.sessions.length === 0 && sel.from === undefined && sel.to === undefined) {
    throw new RecgwError('usage', 'choose what goes on the disc: one or more --session ID, or a time range --from T --to T');
  }
  const picks: DevicePick[] = [];
  const seen = new Set<string>();
  for (const folder of await deviceFolders(store)) {
    const p = await pickDevice(store, folder, sel);
    if (!p) continue;
    for (const s of p.sessions) seen.add(s.opened.sessionId);
    picks.push(p);
  }
  const missing = sel.sessions.filter((s) => !seen.has(s));
  if (missing.length > 0) throw new RecgwError('invalid', `no device ledger in ${store.location} opens session ${missing.join(', ')}: check the session IDs`);
  if (picks.every((p) => p.segments.length === 0)) {
    throw new RecgwError('invalid', `the chosen sessions have no sealed segment${sel.from !== undefined || sel.to !== undefined ? ' in the time range given' : ''}: nothing to put on the disc`);
  }
  return picks;
}

const overlaps = (m: SegmentManifest, sel: Selection): boolean =>
  (sel.to === undefined || Date.parse(m.start) <= sel.to) && (sel.from === undefined || Date.parse(m.end) >= sel.from);

/** The store's top folders that hold a ledger, sorted. */
async function deviceFolders(store: EvidenceStore): Promise<string[]> {
  const out: string[] = [];
  for (const e of await store.list('')) {
    if (e.endsWith('/') && (await store.size(`${e}${LEDGER_FILE}`)) !== undefined) out.push(e.slice(0, -1));
  }
  return out;
}

async function pickDevice(store: EvidenceStore, folder: string, sel: Selection): Promise<DevicePick | undefined> {
  const certs: PickedEntry[] = [];
  const bySession = new Map<string, PickedEntry[]>();
  const wanted = new Set(sel.sessions);
  let deviceId = folder;
  for (const line of await ledgerLines(store, folder)) {
    const p = parseLine(line);
    if (!p.ok) continue; // the verification report names malformed lines; they cannot be evidence
    const e = p.entry;
    deviceId = e.device;
    const picked: PickedEntry = { seq: e.seq, line, hash: lineHash(line), entry: e };
    if (CERT_TYPES.has(e.type)) certs.push(picked);
    const sid = typeof e.body.sessionId === 'string' ? e.body.sessionId : undefined;
    if (sid === undefined || (wanted.size > 0 && !wanted.has(sid))) continue;
    const list = bySession.get(sid);
    if (list) list.push(picked);
    else bySession.set(sid, [picked]);
  }
  const entries: PickedEntry[] = [];
  const segments: SegmentManifest[] = [];
  const sessions: PickedSession[] = [];
  for (const list of bySession.values()) {
    const opened = list.find((x) => x.entry.type === ENTRY.sessionOpened);
    if (!opened) continue;
    const segs = list.filter((x) => x.entry.type === ENTRY.segmentSealed && overlaps(x.entry.body as unknown as SegmentManifest, sel));
    // Without named sessions the range alone chooses: a session with no footage in it is not part of the disc.
    if (wanted.size === 0 && segs.length === 0) continue;
    const closed = list.find((x) => x.entry.type === ENTRY.sessionClosed);
    sessions.push({ deviceId, opened: opened.entry.body as unknown as PickedSession['opened'], ...(closed ? { closed: closed.entry.body as PickedSession['closed'] } : {}) });
    entries.push(...list.filter((x) => x.entry.type !== ENTRY.segmentSealed || segs.includes(x)));
    segments.push(...segs.map((x) => x.entry.body as unknown as SegmentManifest));
  }
  if (sessions.length === 0) return undefined;
  const last = Math.max(...entries.map((x) => x.seq));
  // Each entry is checked against the certificate in force at its seq: every certificate entry up to the last one.
  entries.push(...certs.filter((c) => c.seq <= last && !entries.some((x) => x.seq === c.seq)));
  entries.sort((a, b) => a.seq - b.seq);
  return { deviceId, folder, entries, segments, sessions };
}
