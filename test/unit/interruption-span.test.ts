/**
 * A detected interruption begins no earlier than the recording span it interrupts (docs/evidence-format.md,
 * interruption.started): an installer saw one dated before its session opened, because a source's last footage (the
 * start of a detected outage) can be older than the session. Against a real evidence core and its ledger.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTmp, makeCa, makeGateway } from '../helpers/fixtures.js';
import { startEvidenceCore } from '../../src/app/evidence-core.js';
import { SessionStore } from '../../src/recorder/session-store.js';
import { silentLogger } from '../../src/util/log.js';

afterAll(cleanupTmp);

describe('a detected interruption inside its session', () => {
  it('starts at the span it interrupts when its footage stopped before; a declared one and a later one keep their times', async () => {
    const gw = makeGateway(makeCa().dir, { deviceId: 'room-span' });
    const core = await startEvidenceCore(gw.config, silentLogger);
    let starts: unknown[];
    try {
      const store = new SessionStore(core.db, core.ledger);
      const t0 = Date.parse('2026-12-06T10:00:00.000Z');
      const ctx = { sessionId: 's1', matter: 'sampling', caseRef: 'F-1', officers: [{ name: '张三', badge: '1' }] };
      store.open(ctx, t0, {});
      store.startInterruption('s1', { reason: 'device-fault', origin: 'detected', start: t0 - 5000, sources: ['cam1'] });
      store.startInterruption('s1', { reason: 'device-fault', origin: 'detected', start: t0 + 3000, sources: ['mic1'] });
      // After a pause and a resume, the span is the resumed one.
      store.startInterruption('s1', { reason: 'other', origin: 'declared', start: t0 + 10_000 });
      store.resume('s1', t0 + 20_000, []);
      store.startInterruption('s1', { reason: 'device-fault', origin: 'detected', start: t0 + 15_000, sources: ['cam1'] });
      const lines = core.db.prepare(`SELECT line FROM ledger WHERE type = 'interruption.started' ORDER BY seq`).all() as { line: string }[];
      starts = lines.map((l) => (JSON.parse(l.line) as { body: { start: string } }).body.start);
    } finally {
      await core.stop();
    }
    expect(starts).toEqual(['2026-12-06T10:00:00.000Z', '2026-12-06T10:00:03.000Z', '2026-12-06T10:00:10.000Z', '2026-12-06T10:00:20.000Z']);
  });
});
