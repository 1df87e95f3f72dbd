/** Shared test fixtures: temporary folders that clean up, a demo CA made once per file, enrolled gateways, file hashes. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { initCa, type CaPaths } from '../../src/pki/ca.js';
import { provisionGateway, type Provisioned } from '../../src/demo/provision.js';

const made: string[] = [];

/** A fresh temporary folder, removed by `cleanupTmp()` (call it in afterAll). */
export function tmp(prefix = 'recgw-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanupTmp(): void {
  if (process.env.RECGW_KEEP_TEST_DIRS) return;
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A demo agency CA in a temporary folder. RSA key generation takes ~1 s, so make one per test file. `now` dates its
 * certificates (a store whose receipts are dated months back needs a receipt certificate valid then).
 */
export function makeCa(o: { now?: Date } = {}): { dir: string; paths: CaPaths } {
  const dir = join(tmp('recgw-ca-'), 'ca');
  return { dir, paths: initCa({ out: dir, ...(o.now ? { now: o.now } : {}) }) };
}

/** An enrolled gateway (config + identity) under a new temporary folder, using an existing CA. */
export function makeGateway(caDir: string, opts: { deviceId?: string; config?: Record<string, unknown> } = {}): Provisioned {
  return provisionGateway({ dir: tmp('recgw-gw-'), caDir, ...(opts.deviceId ? { deviceId: opts.deviceId } : {}), ...(opts.config ? { config: opts.config } : {}) });
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Every file under `dir` (relative path) with its size and SHA-256: compare two to see that nothing changed. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out[p.slice(dir.length + 1)] = `${st.size}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}
