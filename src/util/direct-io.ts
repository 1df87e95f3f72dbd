/**
 * Writing around the page cache (O_DIRECT), for files written once and not read back soon: sealed segments on the
 * gateway, received ones on the receiver. On the bench VM, filling fresh page-cache pages costs 1.2-2.5 ms of
 * kernel CPU per MB, against ~0.2 for a direct write (bench/README.md). O_DIRECT needs the memory, the file offset
 * and the length aligned to the device's block size; WebAssembly memory is mapped page-aligned by the engine, so
 * buffers for direct writes come from there.
 */
import { constants, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Offsets and lengths of direct writes are multiples of this (the page size; covers 512 and 4096 byte blocks). */
export const DIRECT_ALIGN = 4096;
const WASM_PAGE = 65536;

/** The engine's WebAssembly.Memory (the TypeScript libs in use do not declare it). */
const WasmMemory = (
  globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBuffer | SharedArrayBuffer } } }
).WebAssembly.Memory;

export const isAligned = (n: number): boolean => n % DIRECT_ALIGN === 0;

/** A page-aligned buffer of `bytes` (a multiple of 64 KiB). */
export function alignedBuffer(bytes: number): Buffer {
  if (bytes % WASM_PAGE !== 0) throw new Error(`an aligned buffer must be a multiple of 64 KiB, not ${bytes} bytes`);
  return Buffer.from(new WasmMemory({ initial: bytes / WASM_PAGE }).buffer as ArrayBuffer, 0, bytes);
}

/** A page-aligned SharedArrayBuffer of `bytes` (for worker threads), or a plain one when `bytes` is not a multiple of 64 KiB. */
export function alignedSharedBuffer(bytes: number): SharedArrayBuffer {
  if (bytes % WASM_PAGE !== 0) return new SharedArrayBuffer(bytes);
  const pages = bytes / WASM_PAGE;
  return new WasmMemory({ initial: pages, maximum: pages, shared: true }).buffer as SharedArrayBuffer;
}

const refused = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EINVAL';

/** `path` (which exists) opened for direct writes; undefined when its file system refuses O_DIRECT. */
export function openDirectSync(path: string, create = false): number | undefined {
  try {
    return openSync(path, constants.O_RDWR | constants.O_DIRECT | (create ? constants.O_CREAT : 0), 0o644);
  } catch (err) {
    if (refused(err)) return undefined;
    throw err;
  }
}

export async function openDirect(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch (err) {
    if (refused(err)) return undefined;
    throw err;
  }
}
