/**
 * Where a receiver keeps the bytes of a file still arriving, chunk by chunk, until it is whole and checked: a file in
 * its own working folder (folder-partials.ts), or, for a store in a bucket, objects in that bucket assembled into an
 * S3 multipart upload (s3-partials.ts), so that a receiver keeps nothing and any receiver can go on with any file.
 * Which bytes are written is the receivers' database's (the `chunks` rows, file-ingest.ts); this holds the bytes.
 */
import type { Readable } from 'node:stream';
import type { Queryable } from './receiver-sql.js';

/** A file whose bytes are all written, made ready to be checked and recorded stored. */
export interface ReadyFile {
  /** The bytes as they will be stored, to hash against the manifest. */
  read(): Promise<Readable>;
  /**
   * The SHA-256 of exactly the bytes the store holds, when known without reading them back (this receiver sent them
   * all itself, each part checked by the server's Content-MD5).
   */
  sha256?: string;
  /** Whether a hash of the chunks as this receiver received them may stand for read() (they are what is stored). */
  trustRunning: boolean;
  /** Whether the object is in the store already (a refusal must remove it). */
  inStore: boolean;
  /**
   * Once checked, before the transaction that records the file stored: put it into the store (written once: a retry
   * finds the same bytes there), or make sure the store holds it. `md5`: the file's MD5 (base64) when the caller
   * hashed the chunks as they came and they are what is stored (trustRunning).
   */
  store(md5?: string): Promise<void>;
}

export interface PartialBytes {
  /** Write the pieces [from, to) of `data`, which starts at file offset `dataOffset`, of a file of `size` bytes. */
  write(device: string, name: string, pieces: [number, number][], data: Buffer, dataOffset: number, size: number): Promise<void>;
  /** After `pieces` were recorded written: send on what they completed (a bucket's parts); nothing for a folder. */
  written(device: string, name: string, pieces: [number, number][], size: number): Promise<void>;
  /**
   * Every byte is written: make the file ready to store as `stored` (a bucket completes its upload to that key). An
   * object already there (put by a receiver stopped before recording it) is what is then checked.
   */
  ready(device: string, name: string, size: number, stored: string): Promise<ReadyFile>;
  /** Remove the file's bytes and any unfinished upload; `q` is the caller's transaction under the device's lock. */
  remove(q: Queryable, device: string, name: string): Promise<void>;
  /**
   * The file is recorded stored: remove its bytes (a bucket's completed upload is the object now). `q` need not hold
   * the device's lock: nothing else writes a stored file's bytes.
   */
  done(q: Queryable, device: string, name: string): Promise<void>;
  /** When the file's bytes were last written (ms since the epoch), or undefined when none are here. */
  lastWritten(device: string, name: string): Promise<number | undefined>;
  /** Every file with bytes (or an unfinished upload) here: the sweep removes those no row describes. */
  held(): Promise<{ device: string; name: string }[]>;
  close(): Promise<void>;
}
