/**
 * `recgw index rebuild`: the index made again from a store, the evidence. Each device in one transaction (its old
 * rows deleted, its new rows written), so a reader sees a device before or after, never half, and a rebuild that
 * stops part way leaves every device whole; running it again finishes the job. Devices no longer in the store leave
 * the index. The rows depend on the store alone, so rebuilding twice gives the same rows. A folder and a bucket are
 * read alike, through the store interface, and only each device's ledger, receipts and alerts (never a segment).
 */
import { basename } from 'node:path';
import { FolderStore } from '../store/folder-store.js';
import { findStoreDevices, storeWhere } from '../store/devices.js';
import type { EvidenceStore } from '../store/store.js';
import { RecgwError } from '../util/errors.js';
import type { IndexDb, Queryable } from './database.js';
import { insertRows } from './bulk.js';
import { COLUMNS, TABLES, readDeviceRows, type DeviceRows } from './device-rows.js';
import { migrateIndex } from './migrate.js';

/** pg_advisory_xact_lock key of a device's rows ("recgwIDX"): two rebuilds write one device at a time. */
export const REBUILD_LOCK = 0x72656367_4944;

/** How often a long device says where it is. */
const PROGRESS_MS = 2000;

export interface RebuildOptions {
  /** The agency CA: receipts that are not genuine are left out. */
  caPems?: string[];
  progress?: (message: string) => void;
}

export interface RebuildSummary {
  devices: number;
  /** Devices the index held that the store no longer has. */
  removed: string[];
  sessions: number;
  segments: number;
  interruptions: number;
  receipts: number;
}

/** `store`: a store (a bucket's S3Store, a FolderStore), or a folder's path. */
export async function rebuildIndex(db: IndexDb, store: EvidenceStore | string, opts: RebuildOptions = {}): Promise<RebuildSummary> {
  if (typeof store === 'string') return rebuildIndex(db, new FolderStore(store), opts);
  const where = storeWhere(store);
  const say = opts.progress ?? (() => undefined);
  const { devices, skipped } = await findStoreDevices(store);
  for (const name of skipped) say(`${where}/${name}: not a device folder's name (letters, digits, '.', '_', '-'), not read`);
  if (devices.length === 0) throw new RecgwError('invalid', `${where} is not a store: neither it nor any folder in it holds a ledger.jsonl`);
  const m = await migrateIndex(db);
  if (m.from !== m.to) say(`index schema: version ${m.from} -> ${m.to}`);
  const sum: RebuildSummary = { devices: 0, removed: [], sessions: 0, segments: 0, interruptions: 0, receipts: 0 };
  const seen = new Map<string, string>();
  for (const [n, device] of devices.entries()) {
    const name = device === '' ? basename(where) : device;
    const at = device === '' ? where : `${where}/${device}`;
    const every = throttle(PROGRESS_MS);
    const rows = await readDeviceRows(store, device, { ...(opts.caPems ? { caPems: opts.caPems } : {}), onProgress: (line) => every(() => say(`  ${name}: ${line} ledger lines read`)) });
    const twin = seen.get(rows.deviceId);
    if (twin !== undefined) {
      throw new RecgwError('invalid', `${twin} and ${at} both hold the ledger of device ${rows.deviceId}: a store has one folder per device; move the copy out of the store`);
    }
    seen.set(rows.deviceId, at);
    await writeDevice(db, rows, (done, total) => every(() => say(`  ${name}: ${done} of ${total} rows written`)));
    say(`${n + 1}/${devices.length} ${rows.deviceId}: ${rows.sessions.length} sessions, ${rows.segments.length} segments, ${rows.interruptions.length} interruptions, ${rows.receipts.length} receipts`);
    sum.devices++;
    sum.sessions += rows.sessions.length;
    sum.segments += rows.segments.length;
    sum.interruptions += rows.interruptions.length;
    sum.receipts += rows.receipts.length;
  }
  for (const { device_id: gone } of await db.query<{ device_id: string }>('SELECT device_id FROM devices')) {
    if (seen.has(gone)) continue;
    await db.transaction((tx) => deleteDevice(tx, gone), REBUILD_LOCK);
    sum.removed.push(gone);
    say(`${gone}: no longer in the store, removed from the index`);
  }
  await db.transaction(async (tx) => {
    for (const [key, value] of [['store', where], ['rebuilt_at', new Date().toISOString()], ['receipts_checked', opts.caPems ? 'yes' : 'no']]) {
      await tx.query('INSERT INTO index_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    }
  });
  return sum;
}

async function deleteDevice(tx: Queryable, deviceId: string): Promise<void> {
  for (const t of TABLES) await tx.query(`DELETE FROM ${t} WHERE device_id = $1`, [deviceId]);
}

async function writeDevice(db: IndexDb, rows: DeviceRows, onRows: (done: number, total: number) => void): Promise<void> {
  const total = TABLES.reduce((n, t) => n + rows[t].length, 0);
  let done = 0;
  await db.transaction(async (tx) => {
    await deleteDevice(tx, rows.deviceId);
    for (const t of TABLES) {
      await insertRows(tx, t, COLUMNS[t], rows[t], (k) => onRows((done += k), total));
    }
  }, REBUILD_LOCK);
}

/** Runs what it is given at most once per `ms`. */
function throttle(ms: number): (fn: () => void) => void {
  let last = Date.now();
  return (fn) => {
    if (Date.now() - last < ms) return;
    last = Date.now();
    fn();
  };
}
