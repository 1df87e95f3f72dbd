/**
 * A store's devices and their small files read through the store interface, so a folder and a bucket are read by
 * one code path (the agency index, index/rebuild.ts). Only what is named is read: never a segment.
 */
import { LEDGER_FILE } from '../evidence/head.js';
import { readLineBatches, type ByteSource } from '../verify/ledger-reader.js';
import { isS3Location } from './open-store.js';
import { checkName, type EvidenceStore } from './store.js';

export interface StoreDevices {
  /** The device folders (those holding a ledger.jsonl), sorted; [''] when the store's top is itself a device folder. */
  devices: string[];
  /** Folders whose names no receiver writes (a file system's `lost+found`): not read, named for the operator. */
  skipped: string[];
}

export async function findStoreDevices(store: EvidenceStore): Promise<StoreDevices> {
  const top = await store.list('');
  if (top.includes(LEDGER_FILE)) return { devices: [''], skipped: [] };
  const out: StoreDevices = { devices: [], skipped: [] };
  for (const e of top) {
    if (!e.endsWith('/')) continue;
    const device = e.slice(0, -1);
    if (!isStoreName(device)) out.skipped.push(device);
    else if ((await store.list(device)).includes(LEDGER_FILE)) out.devices.push(device);
  }
  return out;
}

function isStoreName(name: string): boolean {
  try {
    checkName(name);
    return true;
  } catch {
    return false;
  }
}

/** The name of a device's file ('' is the store's top). */
export function deviceFile(device: string, file: string): string {
  return device === '' ? file : `${device}/${file}`;
}

/** Where the store is, as the index records it: a folder's absolute path, or `s3://bucket/prefix` without the trailing '/'. */
export function storeWhere(store: EvidenceStore): string {
  return isS3Location(store.location) ? store.location.replace(/\/+$/, '') : store.location;
}

/**
 * An object as a source the ledger reader can open (again when it looks for duplicates). The reader makes a read
 * failure a finding and reads on; `failures` keeps it, so a caller that must not index half a ledger can refuse.
 */
export function objectBytes(store: EvidenceStore, name: string, failures: unknown[]): ByteSource {
  return async function* (): AsyncGenerator<Buffer> {
    try {
      const body = await store.stream(name);
      if (body) yield* body as AsyncIterable<Buffer>;
    } catch (err) {
      failures.push(err);
      throw err;
    }
  };
}

/** Each line of an object (split on "\n" as the ledger is), streamed; false when there is no such object. */
export async function eachLine(store: EvidenceStore, name: string, fn: (line: string) => void): Promise<boolean> {
  const body = await store.stream(name);
  if (!body) return false;
  for await (const batch of readLineBatches(() => body as AsyncIterable<Buffer>)) for (const l of batch) fn(l.text);
  return true;
}
