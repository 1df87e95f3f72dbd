/**
 * A throwaway S3 server in a folder, for the tests and benches of the object store: Ceph's radosgw (Debian's 16.2)
 * on a single-node cluster — one mon, one OSD on memstore (RAM, nothing written to disk but the mon's map), no mgr,
 * `auth none`, everything on 127.0.0.1 and free ports. The settings are ../shared/docs/MACHINE.md's "S3 object
 * storage" recipe; each one is there because radosgw hangs or crawls without it.
 *
 * It makes one S3 user and one bucket. stop() stops radosgw, then the OSD, then the mon (the reverse of their
 * start: radosgw without its OSD blocks on I/O, an OSD without its mon waits for a map) and removes the folder.
 * stopGateway()/startGateway() restart radosgw alone; the objects live on in the OSD's memory.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { RecgwError, describe } from '../util/errors.js';
import { spawnServer, type SpawnServer } from './spawn-server.js';

const INSTALL = "install Debian's Ceph (apt-get install -y ceph-mon ceph-osd radosgw ceph-common)";

export interface ThrowawayRadosgwOptions {
  /** An empty folder it takes over; removed by stop(). */
  dir: string;
  /** The mon's port (msgr2) and radosgw's HTTP port. */
  monPort: number;
  port: number;
  /** Bucket to create (3+ characters); default "recgw". */
  bucket?: string;
  /** RAM the OSD may hold (memstore device bytes); default 1 GiB. */
  memBytes?: number;
  spawn?: SpawnServer;
  /** How long to wait for each daemon (default 30 s). */
  startTimeoutMs?: number;
}

export interface ThrowawayRadosgw {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  bucket: string;
  /** Path-style addressing is the only one it answers; any region name is accepted. */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** Stop radosgw (SIGTERM, SIGKILL after 10 s): requests fail until startGateway(). */
  stopGateway(): Promise<void>;
  /** Start radosgw again on the same port; resolves once it answers. */
  startGateway(): Promise<void>;
  /** radosgw, the OSD, the mon, in that order; then the folder is removed. */
  stop(): Promise<void>;
}

interface Daemon {
  stop(): Promise<void>;
  exited(): boolean;
  output(): string;
}

export async function startThrowawayRadosgw(o: ThrowawayRadosgwOptions): Promise<ThrowawayRadosgw> {
  const dir = o.dir;
  const conf = join(dir, 'ceph.conf');
  const fsid = randomUUID();
  const bucket = o.bucket ?? 'recgw';
  const timeout = o.startTimeoutMs ?? 30_000;
  const endpoint = `http://127.0.0.1:${o.port}`;
  for (const d of ['run', 'log', 'mon', 'osd']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(conf, cephConf({ dir, fsid, monPort: o.monPort, port: o.port, memBytes: o.memBytes ?? 1 << 30 }));

  const daemons: Daemon[] = [];
  let gateway: Daemon | undefined;
  const start = (command: string, args: string[]): Daemon => {
    let output = '';
    let exited = false;
    const server = (o.spawn ?? spawnServer)(command, ['-c', conf, '-f', ...args], { user: undefined, cwd: dir }, (t) => (output = (output + t).slice(-4000)));
    void server.exited.then(() => (exited = true));
    return {
      exited: () => exited,
      output: () => output,
      stop: async () => {
        if (exited) return;
        server.proc.kill('SIGTERM');
        const t = setTimeout(() => server.proc.kill('SIGKILL'), 10_000);
        await server.exited;
        clearTimeout(t);
      },
    };
  };
  const stopAll = async (): Promise<void> => {
    // Each in its own try: one that fails to stop must not leave the others running.
    for (const d of [gateway, ...daemons.slice().reverse()]) {
      try {
        await d?.stop();
      } catch {
        // it was killed
      }
    }
    gateway = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  const startGateway = async (): Promise<void> => {
    gateway = start('radosgw', ['-n', 'client.rgw']);
    await waitFor('radosgw', gateway, timeout, () => answers(endpoint));
  };

  try {
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${o.monPort}]`, join(dir, 'monmap'), '-c', conf], dir);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')], dir);
    const mon = start('ceph-mon', ['-i', 'a']);
    daemons.push(mon);
    const osdUuid = randomUUID();
    // `ceph osd new` waits for the mon to form its quorum of one.
    const id = (await run('ceph', ['-c', conf, '--connect-timeout', String(Math.ceil(timeout / 1000)), 'osd', 'new', osdUuid], dir)).trim();
    await run('ceph-osd', ['-c', conf, '-i', id, '--mkfs', '--osd-uuid', osdUuid], dir);
    const osd = start('ceph-osd', ['-i', id]);
    daemons.push(osd);
    await waitFor('ceph-osd', osd, timeout, async () => /"num_up_osds":1\b/.test(await run('ceph', ['-c', conf, 'osd', 'stat', '--format', 'json'], dir)));
    await startGateway();
    const keys = { accessKeyId: randomUUID().replace(/-/g, '').slice(0, 20).toUpperCase(), secretAccessKey: randomUUID() };
    await run('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'user', 'create', '--uid=recgw', '--display-name=recgw', `--access-key=${keys.accessKeyId}`, `--secret=${keys.secretAccessKey}`], dir);
    const client = new S3Client({ endpoint, region: 'default', forcePathStyle: true, credentials: keys });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    return {
      endpoint,
      bucket,
      region: 'default',
      ...keys,
      dir,
      stopGateway: async () => {
        await gateway?.stop();
        gateway = undefined;
      },
      startGateway,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function cephConf(c: { dir: string; fsid: string; monPort: number; port: number; memBytes: number }): string {
  return `[global]
fsid = ${c.fsid}
mon host = v2:127.0.0.1:${c.monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr1 = false
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
# else each pool step waits a second for the next paxos round
paxos propose interval = 0.01
# a test machine's disk may be fuller than a production mon would like
mon data avail warn = 1
mon data avail crit = 0
run dir = ${c.dir}/run
admin socket = ${c.dir}/run/$name.asok
pid file = ${c.dir}/run/$name.pid
log file = ${c.dir}/log/$name.log
mon data = ${c.dir}/mon
osd data = ${c.dir}/osd
osd objectstore = memstore
memstore device bytes = ${c.memBytes}
[client]
# radosgw hangs at start without it
ms mon client mode = crc
# without tcp_nodelay a small GET or LIST answer waits ~40 ms for the client's delayed ACK (bench/README.md, s3-ingest)
rgw frontends = beast endpoint=127.0.0.1:${c.port} tcp_nodelay=1
rgw data = ${c.dir}/rgw
`;
}

async function waitFor(name: string, d: Daemon, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (d.exited()) throw new Error(`${name} exited at start:\n${d.output()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${name} was not ready in ${timeoutMs} ms:\n${d.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function answers(endpoint: string): Promise<boolean> {
  const res = await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  return res.ok;
}

function run(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new RecgwError('config', `cannot run ${file}: ${INSTALL}`));
      reject(new Error(`${file} ${args.join(' ')} failed: ${describe(err)}\n${stdout}${stderr}`));
    });
  });
}
