/**
 * An uplink test world: a real mosquitto with TLS and the per-device ACL, receivers as `recgw receiver` processes,
 * and gateways whose queues are seeded with sealed segments of a chosen size (random bytes sealed by the real
 * Sealer inside a real session), so upload tests do not wait for ffmpeg to record.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startEvidenceCore, stateDbPath } from '../../src/app/evidence-core.js';
import { ENTRY, type SessionContext } from '../../src/evidence/types.js';
import { sealRandom } from './queue-world.js';
import { silentLogger } from '../../src/util/log.js';
import { provisionReceiver, type Provisioned, type ProvisionedReceiver } from '../../src/demo/provision.js';
import { makeGateway, tmp } from './fixtures.js';

const BIN = join(import.meta.dirname, '../../bin/recgw.js');
const iso = (t: number): string => new Date(t).toISOString();

/** A gateway provisioned with an uplink to `broker` (plus any extra uplink settings). */
export function uplinkGateway(caDir: string, deviceId: string, broker: string, uplink: Record<string, unknown> = {}): Provisioned {
  return makeGateway(caDir, {
    deviceId,
    config: { time: { source: 'host', assumeSynchronised: true }, uplink: { broker, answerTimeoutSeconds: 2, ...uplink } },
  });
}

/** Seal `count` segments of `size` random bytes into the gateway's queue, in one closed session of one camera. */
export async function seedSegments(gw: Provisioned, count: number, size: number, segSeconds = 2): Promise<string[]> {
  const core = await startEvidenceCore(gw.config, silentLogger);
  const t0 = Date.now() - (count + 1) * segSeconds * 1000;
  const session: SessionContext = {
    sessionId: `S${t0}-${gw.config.deviceId}`,
    matter: 'site-inspection',
    caseRef: 'UP-2026-001',
    officers: [
      { name: '张三', badge: '13010001' },
      { name: '李四', badge: '13010002' },
    ],
    place: 'uplink test room',
  };
  const names: string[] = [];
  try {
    core.ledger.append(ENTRY.sessionOpened, { ...session, start: iso(t0), sources: ['cam1'] });
    for (let i = 0; i < count; i++) {
      names.push(await sealRandom(core, session, { source: 'cam1', seq: i, endMs: t0 + (i + 1) * segSeconds * 1000, durationMs: segSeconds * 1000, bytes: size }));
    }
    core.ledger.append(ENTRY.sessionClosed, { sessionId: session.sessionId, end: iso(t0 + count * segSeconds * 1000), reason: 'stopped' });
  } finally {
    await core.stop();
  }
  return names;
}

export interface ReceiverProcess {
  rx: ProvisionedReceiver;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

/**
 * Start `recgw receiver` (or `script`, run with the config path and `args`) and wait until it has subscribed.
 */
export async function startReceiver(rx: ProvisionedReceiver, timeoutMs = 15_000, script?: { path: string; args: string[] }): Promise<ReceiverProcess> {
  const argv = script ? [script.path, rx.configPath, ...script.args] : [BIN, 'receiver', '--config', rx.configPath];
  const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RECGW_LOG_LEVEL: 'info' } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('receiver ready')) {
    if (proc.exitCode !== null) throw new Error(`recgw receiver exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`recgw receiver did not subscribe within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    rx,
    proc,
    log: () => out,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function makeReceiver(caDir: string, name: string, broker: string, opts: { store?: string; protocolVersion?: 4 | 5; shareGroup?: string | null; database?: string } = {}): ProvisionedReceiver {
  return provisionReceiver({ dir: tmp('recgw-rx-'), caDir, name, broker, ...opts });
}

export interface QueueState {
  head: number;
  entriesThrough: number;
  unreceipted: number;
  receipts: number;
}

/** The gateway's upload queue as its state database says (read-only; the gateway may be running). */
export function queueState(gw: Provisioned): QueueState {
  const db = new Database(stateDbPath(gw.config.stateDir), { readonly: true, fileMustExist: true });
  try {
    const head = (db.prepare('SELECT MAX(seq) AS s FROM ledger').get() as { s: number }).s;
    const kv = db.prepare(`SELECT value FROM kv WHERE key = 'uplink.entries.through'`).get() as { value: string } | undefined;
    const hasQueue = db.prepare(`SELECT name FROM sqlite_master WHERE name = 'uplink_files'`).get() !== undefined;
    const un = hasQueue ? (db.prepare('SELECT COUNT(*) AS n FROM segments s LEFT JOIN uplink_files u ON u.name = s.name WHERE u.receipt_seq IS NULL').get() as { n: number }).n : -1;
    const receipts = (db.prepare(`SELECT COUNT(*) AS n FROM ledger WHERE type = 'receipt.received'`).get() as { n: number }).n;
    return { head, entriesThrough: kv ? Number(kv.value) : -1, unreceipted: un, receipts };
  } finally {
    db.close();
  }
}

/** Wait until every file has its receipt and the entries are confirmed up to the head (or fail after timeoutMs). */
export async function waitDelivered(gw: Provisioned, timeoutMs: number, also: () => string = () => ''): Promise<QueueState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = queueState(gw);
    if (s.unreceipted === 0 && s.entriesThrough >= s.head) return s;
    if (Date.now() > deadline) throw new Error(`not delivered within ${timeoutMs} ms: ${JSON.stringify(s)}\n${also()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The gateway's ledger lines, in order, as its state database holds them. */
export function ledgerLines(gw: Provisioned): string[] {
  const db = new Database(stateDbPath(gw.config.stateDir), { readonly: true });
  try {
    return (db.prepare('SELECT line FROM ledger ORDER BY seq').all() as { line: string }[]).map((r) => r.line);
  } finally {
    db.close();
  }
}

/** Receipts the receiver wrote for a device, parsed. */
export function storeReceipts(store: string, deviceId: string): { kind: string; name?: string }[] {
  const p = join(store, deviceId, 'receipts.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; name?: string });
}

export const storedSegments = (store: string, deviceId: string): string[] => {
  const d = join(store, deviceId, 'segments');
  return existsSync(d) ? readdirSync(d).sort() : [];
};
