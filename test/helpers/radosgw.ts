/**
 * A real S3 server for a test (src/demo/throwaway-radosgw.ts: Ceph's radosgw on a one-node memstore cluster in a temp
 * folder, free ports), its daemons under the watchdog that kills them when the test process dies however it dies.
 * withRadosgw() gives a block of tests one server; a test that wants an empty store uses a prefix of its own.
 */
import { afterAll, beforeAll } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { EvidenceStore } from '../../src/store/store.js';
import { isAppendOnly } from '../../src/store/store.js';
import { startThrowawayRadosgw, type ThrowawayRadosgw } from '../../src/demo/throwaway-radosgw.js';
import { freePort, tmp } from './fixtures.js';
import { spawnWatched } from './watched-process.js';

export async function startRadosgw(): Promise<ThrowawayRadosgw> {
  return startThrowawayRadosgw({
    dir: tmp('recgw-rgw-'),
    monPort: await freePort(),
    port: await freePort(),
    memBytes: 512 << 20,
    spawn: (command, args, opts, onOutput) => spawnWatched(command, args, onOutput, { cwd: opts.cwd }),
  });
}

/** A client of the server as the store's own would be: path-style, checksums only where S3 requires them. */
export function s3Client(rgw: ThrowawayRadosgw): S3Client {
  return new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** One server for the tests of the block: started in beforeAll, stopped (and its folder removed) in afterAll. */
export function withRadosgw(): { server(): ThrowawayRadosgw } {
  let server: ThrowawayRadosgw | undefined;
  beforeAll(async () => {
    server = await startRadosgw();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);
  return {
    server: () => {
      if (!server) throw new Error('withRadosgw: the server starts in beforeAll; use it inside a test or a hook');
      return server;
    },
  };
}

/**
 * A folder store's objects put into `store` through the store interface, as a receiver would have written them: the
 * append-only files appended (pieces in a bucket), the log replaced whole, the rest written once. The receivers'
 * database and dot folders stay behind.
 */
export async function putFolder(folder: string, store: EvidenceStore): Promise<void> {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  for (const p of walk(folder)) {
    const name = relative(folder, p);
    if (name.startsWith('receiver.db') || name.startsWith('.')) continue;
    if (isAppendOnly(name)) await store.append(name, 0, readFileSync(p));
    else if (name.startsWith('log/')) await store.replace(name, readFileSync(p));
    else await store.putOnce(name, readFileSync(p));
  }
}
