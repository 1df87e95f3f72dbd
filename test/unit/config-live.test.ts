/**
 * Which config keys the running gateway applies (Gateway.configApplied) and which wait for a restart: the schema's
 * `x-restart` marks decide, and the console shows them. Every key of the schema is listed here on one side, so a
 * key added later without a decision fails this test: mark it `x-restart`, or apply it live and list it below.
 */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { diffConfig, needsRestart } from '../../src/config/diff.js';

/** The keys Recorder.reconfigure and Uploader.reconfigure take while running. */
const LIVE = [
  '$schema',
  'place',
  'recording.expectedSessionMinutes',
  'recording.minBatteryPercent',
  'uplink.alarmHoursBefore[0]',
  'uplink.answerTimeoutSeconds',
  'uplink.chunkKiB',
  'uplink.deadlineHours',
  'uplink.maxBytesPerSecond',
  'uplink.outOfCoverageMinutes',
  'uplink.retentionHours',
];

type Node = Record<string, unknown>;
const defs = (configSchema as unknown as { $defs: Record<string, Node> }).$defs;

/** Every leaf key path of the schema, arrays as `[0]`. */
function leaves(n: Node, base = ''): string[] {
  const r = typeof n.$ref === 'string' ? defs[n.$ref.replace('#/$defs/', '')]! : n;
  const props = r.properties as Record<string, Node> | undefined;
  if (props) return Object.entries(props).flatMap(([k, v]) => leaves(v, base ? `${base}.${k}` : k));
  if (r.items) return leaves(r.items as Node, `${base}[0]`);
  return [base];
}

describe('live and restart config keys', () => {
  const all = leaves(configSchema as unknown as Node);

  it('every key is decided: the live ones are exactly those the gateway applies while running', () => {
    expect(all.length).toBeGreaterThan(60);
    expect(all.filter((k) => !needsRestart(k, false)).sort()).toEqual(LIVE);
  });

  it('a section that appears or goes away needs a restart when anything in it does', () => {
    expect(diffConfig({ place: 'A' }, { place: 'A', gps: { gpsd: 'localhost:2947' } })).toEqual([{ key: 'gps.gpsd', to: 'localhost:2947', restart: true }]);
    expect(diffConfig({ place: 'A', uplink: { broker: 'mqtts://a:8883' } }, { place: 'A' })).toEqual([{ key: 'uplink.broker', from: 'mqtts://a:8883', restart: true }]);
    // An array that appears as a whole: its leaf keys are restart keys when the array is.
    expect(diffConfig({ recording: { sources: [] } }, { recording: { sources: [{ id: 'cam1' }] } })).toEqual([
      { key: 'recording.sources', from: [], restart: true },
      { key: 'recording.sources[0].id', to: 'cam1', restart: true },
    ]);
  });

  it('live keys beside restart keys in one change are told apart', () => {
    const changes = diffConfig(
      { place: 'A', uplink: { broker: 'mqtts://a:8883', deadlineHours: 24 } },
      { place: 'B', uplink: { broker: 'mqtts://b:8883', deadlineHours: 12, maxBytesPerSecond: 65536 } },
    );
    expect(changes.map((c) => [c.key, c.restart])).toEqual([
      ['place', false],
      ['uplink.broker', true],
      ['uplink.deadlineHours', false],
      ['uplink.maxBytesPerSecond', false],
    ]);
  });
});
