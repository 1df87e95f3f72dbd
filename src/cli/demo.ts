/**
 * `recgw demo`: the evidence core end to end on this machine - a demo agency CA, an enrolled gateway, a
 * sample recording of a simulated camera and microphone sealed into the signed ledger, an export, and the
 * verifier's report on it. Exit 0 when the verifier passes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { provisionGateway } from '../demo/provision.js';
import { recordSample } from '../demo/sample.js';
import { startEvidenceCore } from '../app/evidence-core.js';
import { exportDevice } from '../evidence/export.js';
import { ENTRY } from '../evidence/types.js';
import { verifyStore } from '../verify/verifier.js';
import { formatReport } from '../verify/human.js';
import { loadPrivateKey } from '../pki/keys.js';
import { createLogger } from '../util/log.js';
import { parse, positiveInt } from './args.js';
import type { Io } from './io.js';

const USAGE = 'recgw demo [--seconds N] [--out DIR]';

export async function demoCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { seconds: { type: 'string' }, out: { type: 'string' } }, USAGE);
  const seconds = positiveInt(values.seconds, '--seconds', 12);
  const out = resolve(values.out ?? mkdtempSync(join(tmpdir(), 'recgw-demo-')));
  const step = (n: number, text: string): void => io.out(`[${n}/5] ${text}\n`);

  step(1, `creating a demo agency CA in ${join(out, 'ca')} and enrolling gateway demo-room-1`);
  const p = provisionGateway({ dir: join(out, 'gateway'), caDir: join(out, 'ca'), createCa: true });

  const log = createLogger('recgw', { level: 'warn' });
  const core = await startEvidenceCore(p.config, log);
  const sessionId = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}Z-${randomBytes(3).toString('hex')}`;
  const session = {
    sessionId,
    matter: 'site-inspection',
    caseRef: 'DEMO-2026-001',
    officers: [
      { name: '张三', badge: '13010001' },
      { name: '李四', badge: '13010002' },
    ],
    party: '演示当事人',
    place: p.config.place ?? '',
  };
  try {
    step(2, `recording ${seconds} s from a simulated camera and microphone`);
    const t0 = Date.now();
    core.ledger.append(ENTRY.sessionOpened, { ...session, start: new Date(t0).toISOString(), sources: ['cam1', 'mic1'] });
    const [cam, mic] = await Promise.all([
      recordSample({ dir: join(core.dirs.spool, 'cam1'), seconds, segmentSeconds: 4, kind: 'camera', realtime: true }),
      recordSample({ dir: join(core.dirs.spool, 'mic1'), seconds, segmentSeconds: 4, kind: 'microphone', realtime: true }),
    ]);

    step(3, `sealing ${cam.length + mic.length} segments (hash, encrypt for the agency, sign into the ledger)`);
    const clock = { source: 'system' as const, synced: false };
    for (const [sourceId, kind, segs] of [['cam1', 'camera', cam], ['mic1', 'microphone', mic]] as const) {
      segs.forEach((s, i) =>
        core.sealer.enqueue({
          name: `${sessionId}_${sourceId}_${String(i).padStart(6, '0')}`,
          plainPath: s.path,
          session,
          source: { id: sourceId, kind },
          seq: i,
          start: new Date(t0 + s.startSec * 1000).toISOString(),
          end: new Date(t0 + s.endSec * 1000).toISOString(),
          clock,
          gps: null,
        }),
      );
    }
    await core.sealer.drain();
    core.ledger.append(ENTRY.sessionClosed, { sessionId, reason: 'stopped', end: new Date(t0 + seconds * 1000).toISOString() });

    step(4, `exporting the ledger and sealed segments to ${join(out, 'export')}`);
    await exportDevice({ db: core.db, ledger: core.ledger, signer: core.identity.signer, deviceId: p.config.deviceId, outDir: join(out, 'export', p.config.deviceId) });
  } finally {
    await core.stop();
  }

  step(5, 'verifying the export with the agency CA certificate and decryption key');
  const report = await verifyStore(join(out, 'export'), {
    caPems: [readFileSync(p.ca.caCert, 'utf8')],
    agencyKey: loadPrivateKey(p.ca.agencyKey, 'agency key', ''),
  });
  io.out('\n' + formatReport(report) + '\n');
  io.out(`\nEverything is kept in ${out}. Verify again with:\n  recgw verify ${join(out, 'export')} --ca ${p.ca.caCert} --agency-key ${p.ca.agencyKey}\n`);
  return report.ok ? 0 : 1;
}
