/**
 * The uplink protocol's messages on the wire (docs/uplink-protocol.md): topic names, the JSON messages and the
 * binary chunk framing. Shared by the gateway and the receiver; every decoder returns a problem instead of
 * throwing, because anything arriving over MQTT is untrusted input.
 */
import type { Receipt } from '../evidence/receipt.js';

export const PROTOCOL_VERSION = 1;
export const SHARE_GROUP = 'recgw-receivers';
export const MAX_ENTRIES_BYTES = 512 * 1024;
export const MAX_HELLO_FILES = 256;
export const MAX_HEADER = 4096;

export const topics = {
  status: (d: string): string => `recgw/${d}/status`,
  hello: (d: string): string => `recgw/${d}/up/hello`,
  entries: (d: string): string => `recgw/${d}/up/entries`,
  chunk: (d: string): string => `recgw/${d}/up/chunk`,
  state: (d: string): string => `recgw/${d}/down/state`,
  receipt: (d: string): string => `recgw/${d}/down/receipt`,
  /** An interruption or early stop as it happens (alert-wire.ts), and the retained state of open ones. */
  alert: (d: string): string => `recgw/${d}/alert`,
  alertState: (d: string): string => `recgw/${d}/alert/state`,
  receiverSubscription: (group: string | null = SHARE_GROUP): string => (group === null ? 'recgw/+/up/#' : `$share/${group}/recgw/+/up/#`),
  receiverAlertSubscription: (group: string | null = SHARE_GROUP): string => (group === null ? 'recgw/+/alert' : `$share/${group}/recgw/+/alert`),
};

/** The device and message kind of an uplink topic, or undefined when the topic is not one. */
export function parseTopic(topic: string): { device: string; kind: string } | undefined {
  const m = /^recgw\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/(status|up\/hello|up\/entries|up\/chunk|down\/state|down\/receipt|alert|alert\/state)$/.exec(topic);
  return m ? { device: m[1]!, kind: m[2]! } : undefined;
}

export interface FileOffer {
  name: string;
  size: number;
  sha256: string;
}

export interface Hello {
  v: 1;
  type: 'hello';
  device: string;
  id: string;
  files: FileOffer[];
  /** The size of the newest agency log checkpoint this gateway has checked (0 when none): the state proves from it. */
  log?: { size: number };
}

export interface EntriesMessage {
  v: 1;
  type: 'entries';
  device: string;
  deadline: string;
  lines: string[];
}

export type FileState = { have: number } | { stored: true };

export interface StateMessage {
  v: 1;
  type: 'state';
  device: string;
  re: string;
  ledger: { seq: number; hash: string } | null;
  files: Record<string, FileState>;
  receipts: Receipt[];
  /**
   * The agency log: its newest checkpoint, a consistency proof from the hello's size, the log key's certificate, and
   * under a gm CA the log's SM2 certificate (its checkpoints carry an SM2 line too, evidence-format.md §17.9).
   */
  log?: { checkpoint: string; consistency: string[]; cert: string; sm2Cert?: string };
}

export interface ChunkHeader {
  v: 1;
  device: string;
  name: string;
  offset: number;
  size: number;
  sha256: string;
  deadline: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: string };

export const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHex64 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
export const isIso = (v: unknown): v is string => typeof v === 'string' && /Z$/.test(v) && !Number.isNaN(Date.parse(v));
/** Segment names become file names on the receiver: no separators, no dot files. */
export const isSegmentName = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(v);

/**
 * A value a peer sent, as a refusal shows it: JSON, cut at 64 characters, so that a hostile peer cannot make the log's
 * lines as long as its messages.
 */
export function shown(v: unknown): string {
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 64 ? `${j.slice(0, 64)}… (${j.length} characters)` : j;
}

/** A JSON message of `type` for `device` (its topic's): version, type and device checked, the rest left to the caller. */
export function parseJson(payload: Buffer, type: string, device: string): Decoded<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, problem: `the ${type} message is not JSON` };
  }
  if (!obj(v)) return { ok: false, problem: `the ${type} message is not a JSON object` };
  if (v.v !== PROTOCOL_VERSION) return { ok: false, problem: `the ${type} message has protocol version ${shown(v.v)}, not ${PROTOCOL_VERSION}` };
  if (v.type !== type) return { ok: false, problem: `a message of type ${shown(v.type)} arrived on the ${type} topic` };
  if (v.device !== device) return { ok: false, problem: `the ${type} message names device ${shown(v.device)} on the topic of ${JSON.stringify(device)}` };
  return { ok: true, value: v };
}

export function decodeHello(payload: Buffer, device: string): Decoded<Hello> {
  const d = parseJson(payload, 'hello', device);
  if (!d.ok) return d;
  const { id, files } = d.value;
  if (typeof id !== 'string' || id.length === 0 || id.length > 100) return { ok: false, problem: 'the hello has no id' };
  if (!Array.isArray(files) || files.length > MAX_HELLO_FILES) return { ok: false, problem: `the hello's files is not a list of at most ${MAX_HELLO_FILES}` };
  for (const f of files) {
    if (!obj(f) || !isSegmentName(f.name) || !isCount(f.size) || !isHex64(f.sha256)) return { ok: false, problem: 'a file of the hello lacks a valid name, size or sha256' };
  }
  const log = d.value.log;
  if (log !== undefined && !(obj(log) && isCount(log.size))) return { ok: false, problem: "the hello's log is not {size}" };
  return { ok: true, value: d.value as unknown as Hello };
}

export function decodeEntries(payload: Buffer, device: string): Decoded<EntriesMessage> {
  if (payload.length > MAX_ENTRIES_BYTES + 4096) return { ok: false, problem: `the entries message is ${payload.length} bytes, more than the ${MAX_ENTRIES_BYTES} allowed` };
  const d = parseJson(payload, 'entries', device);
  if (!d.ok) return d;
  const { lines, deadline } = d.value;
  if (!isIso(deadline)) return { ok: false, problem: "the entries message's deadline is not an ISO UTC time" };
  if (!Array.isArray(lines) || lines.length === 0 || !lines.every((l) => typeof l === 'string' && l.length > 0 && !l.includes('\n'))) {
    return { ok: false, problem: 'the entries message has no lines, or a line that is not a one-line string' };
  }
  return { ok: true, value: d.value as unknown as EntriesMessage };
}

export function decodeState(payload: Buffer, device: string): Decoded<StateMessage> {
  const d = parseJson(payload, 'state', device);
  if (!d.ok) return d;
  const { re, ledger, files, receipts } = d.value;
  if (typeof re !== 'string') return { ok: false, problem: 'the state message has no re' };
  if (ledger !== null && !(obj(ledger) && isCount(ledger.seq) && isHex64(ledger.hash))) return { ok: false, problem: "the state message's ledger is not {seq, hash} or null" };
  if (!obj(files) || !Object.values(files).every((f) => obj(f) && (f.stored === true || isCount(f.have)))) {
    return { ok: false, problem: "the state message's files is not a map of {have} or {stored}" };
  }
  if (!Array.isArray(receipts)) return { ok: false, problem: "the state message's receipts is not a list" };
  const log = d.value.log;
  const isLog = (l: unknown): boolean =>
    obj(l) &&
    typeof l.checkpoint === 'string' &&
    typeof l.cert === 'string' &&
    (l.sm2Cert === undefined || typeof l.sm2Cert === 'string') &&
    Array.isArray(l.consistency) &&
    l.consistency.length <= 63 &&
    l.consistency.every((h) => typeof h === 'string');
  if (log !== undefined && !isLog(log)) return { ok: false, problem: "the state message's log is not {checkpoint, consistency, cert, sm2Cert?}" };
  return { ok: true, value: d.value as unknown as StateMessage };
}

/**
 * How many bytes the chunk at `offset` of a `size`-byte file carries, for chunks of `chunk` bytes: a last piece of
 * at most chunk/16 goes with the chunk before it. A sealed segment is its ciphertext plus a 16-byte tag, so one of
 * whole chunks would otherwise end in a message of 16 bytes, which costs the receiver about as much as a full one.
 */
export function chunkLength(offset: number, size: number, chunk: number): number {
  const rest = size - offset;
  return rest <= maxChunkLength(chunk) ? rest : chunk;
}

/** The most bytes of a file one chunk carries (see chunkLength). */
export const maxChunkLength = (chunk: number): number => chunk + Math.floor(chunk / 16);

/** The largest `uplink.chunkKiB` the config schema allows. */
export const MAX_CHUNK_KIB = 4096;

/**
 * The most bytes of one MQTT PUBLISH carrying a chunk of `chunkKiB`, counted as mosquitto's `max_packet_size`
 * counts them (the whole packet): fixed header (1 + a remaining length of at most 4), topic (2 + `recgw/<d>/up/chunk`
 * with a 64-character device ID), packet identifier (2), the MQTT 5 property length (1; the gateway sends no
 * properties), then the payload: 4 + a header of at most MAX_HEADER (the receiver's bound) + maxChunkLength.
 * The largest other message, an entries message, is under MAX_ENTRIES_BYTES + 4096. uplink-protocol.md §2.
 */
export function maxChunkPacketBytes(chunkKiB: number): number {
  const topic = 2 + Buffer.byteLength(topics.chunk('d'.repeat(64)));
  return 1 + 4 + topic + 2 + 1 + 4 + MAX_HEADER + maxChunkLength(chunkKiB * 1024);
}

export function encodeChunk(h: ChunkHeader, data: Uint8Array): Buffer {
  const { frame, body } = chunkFrame(h, data.length);
  body.set(data);
  return frame;
}

/**
 * A chunk's frame with its header written and `body` the place for its `len` data bytes (read straight into it).
 * With `into` (at least 4 + header + len bytes) the frame is a view of it, so senders can reuse their buffers.
 */
export function chunkFrame(h: ChunkHeader, len: number, into?: Buffer): { frame: Buffer; body: Buffer } {
  const head = Buffer.from(JSON.stringify(h), 'utf8');
  const size = 4 + head.length + len;
  const frame = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  frame.writeUInt32BE(head.length, 0);
  head.copy(frame, 4);
  return { frame, body: frame.subarray(4 + head.length) };
}

/** The chunk's header and a view of its data (no copy). */
export function decodeChunk(payload: Buffer, device: string): Decoded<{ header: ChunkHeader; data: Buffer }> {
  if (payload.length < 4) return { ok: false, problem: 'the chunk is shorter than its 4-byte header length' };
  const n = payload.readUInt32BE(0);
  if (n === 0 || n > MAX_HEADER || 4 + n > payload.length) return { ok: false, problem: `the chunk's header length ${n} is out of range` };
  let h: unknown;
  try {
    h = JSON.parse(payload.subarray(4, 4 + n).toString('utf8'));
  } catch {
    return { ok: false, problem: "the chunk's header is not JSON" };
  }
  if (!obj(h) || h.v !== PROTOCOL_VERSION) return { ok: false, problem: "the chunk's header is not a version 1 header" };
  if (h.device !== device) return { ok: false, problem: `the chunk names device ${shown(h.device)} on the topic of ${JSON.stringify(device)}` };
  if (!isSegmentName(h.name) || !isCount(h.offset) || !isCount(h.size) || !isHex64(h.sha256) || !isIso(h.deadline)) {
    return { ok: false, problem: "the chunk's header lacks a valid name, offset, size, sha256 or deadline" };
  }
  const data = payload.subarray(4 + n);
  if (h.offset + data.length > h.size) return { ok: false, problem: `the chunk of ${h.name} runs past the file's size (${h.offset}+${data.length} > ${h.size})` };
  return { ok: true, value: { header: h as unknown as ChunkHeader, data } };
}
