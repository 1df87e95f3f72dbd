/**
 * The measurements behind the speech thresholds (docs/operations.md §19): Mandarin explanations from espeak-ng,
 * mixed by sox into a quiet room (pink noise, -60 dBFS), a room with a fan (-40 dBFS) and a loud fan (-30 dBFS) at
 * several speech levels, and noises that are not speech (door slams, coughs, footsteps, a chair, typing, a steady
 * tone, a beep) in each room, all measured by the microphone runs' own voice meter (ffmpeg, voice.ts) and judged by
 * SpeechTracker with the default thresholds. Prints the table; RECGW_SPEECH_FULL=1 uses all ten talkers per level
 * (five phrases, two voices: the table in the docs) instead of two.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cleanupTmp, tmp } from '../helpers/fixtures.js';
import { PHRASES, VOICES, mix, noise, speech, type Layer, type Noise } from '../helpers/room-sound.js';
import { voiceFramesOfFile } from '../../src/hal/ffmpeg/voice.js';
import { SPEECH_DEFAULTS, SpeechTracker, type Utterance } from '../../src/recorder/speech.js';

const SECONDS = 14;
const SPEECH_AT = 2;
const ROOMS = [
  { name: 'quiet', bed: 'pink', rmsDb: -60 },
  { name: 'fan', bed: 'fan', rmsDb: -40 },
  { name: 'loud fan', bed: 'fan', rmsDb: -30 },
] as const;
const LEVELS = [-25, -30, -35, -40, -45, -50];
/** Not speech: each placed twice in the room (the second time 6 dB quieter), at peak levels a close source reaches. */
const NOT_SPEECH: { kind: Noise; db: number; by: 'rms' | 'peak' }[] = [
  { kind: 'door', db: -6, by: 'peak' },
  { kind: 'cough', db: -6, by: 'peak' },
  { kind: 'steps', db: -10, by: 'peak' },
  { kind: 'scrape', db: -10, by: 'peak' },
  { kind: 'typing', db: -20, by: 'peak' },
  { kind: 'beep', db: -20, by: 'rms' },
];

const full = process.env.RECGW_SPEECH_FULL === '1';
const talkers = PHRASES.slice(0, full ? PHRASES.length : 1).flatMap((text, i) => VOICES.map((voice, j) => ({ text, voice, name: `phrase${i}-${j}` })));

interface Case {
  room: string;
  what: string;
  file: string;
  utterances: Utterance[];
}

async function judge(file: string): Promise<Utterance[]> {
  const frames = await voiceFramesOfFile(file);
  const t = new SpeechTracker(SPEECH_DEFAULTS);
  const out = t.push(frames.map((f) => ({ at: Math.round(f.t * 1000), db: f.db })));
  return [...out, ...t.flush(Infinity)];
}

/** Two at a time: the machine has two cores. */
async function measureAll(cases: Omit<Case, 'utterances'>[]): Promise<Case[]> {
  const out: Case[] = [];
  for (let i = 0; i < cases.length; i += 2) {
    out.push(...(await Promise.all(cases.slice(i, i + 2).map(async (c) => ({ ...c, utterances: await judge(c.file) })))));
  }
  return out;
}

describe('speech detection on generated Mandarin speech in room noise', () => {
  const dir = tmp('recgw-speech-');
  let cases: Case[] = [];
  const heard = (c: Case): boolean => c.utterances.some((u) => u.speech);

  beforeAll(async () => {
    const todo: Omit<Case, 'utterances'>[] = [];
    for (const room of ROOMS) {
      const bed = { file: noise(dir, room.bed as Noise, SECONDS), rmsDb: room.rmsDb };
      for (const level of LEVELS) {
        for (const t of talkers) {
          const layer: Layer = { file: speech(dir, t.text, t.voice, t.name), db: level, by: 'rms', at: SPEECH_AT };
          todo.push({ room: room.name, what: `speech ${level}`, file: mix(join(dir, `${room.name}-${level}-${t.name}.wav`), bed, [layer], SECONDS) });
        }
      }
      todo.push({ room: room.name, what: 'room alone', file: mix(join(dir, `${room.name}-alone.wav`), bed, [], SECONDS) });
      for (const n of NOT_SPEECH) {
        const f = noise(dir, n.kind);
        const layers: Layer[] = [
          { file: f, db: n.db, by: n.by, at: 2 },
          { file: f, db: n.db - 6, by: n.by, at: 8 },
        ];
        todo.push({ room: room.name, what: n.kind, file: mix(join(dir, `${room.name}-${n.kind}.wav`), bed, layers, SECONDS) });
      }
    }
    todo.push({ room: 'tone', what: 'tone -20', file: mix(join(dir, 'tone.wav'), { file: noise(dir, 'tone', SECONDS), rmsDb: -20 }, [], SECONDS) });
    cases = await measureAll(todo);
    const rows = new Map<string, { hit: number; n: number }>();
    for (const c of cases) {
      const k = `${c.room} | ${c.what}`;
      const r = rows.get(k) ?? { hit: 0, n: 0 };
      r.n++;
      if (heard(c)) r.hit++;
      rows.set(k, r);
    }
    console.log(`speech detected (thresholds ${JSON.stringify(SPEECH_DEFAULTS)}):\n${[...rows].map(([k, r]) => `  ${k}: ${r.hit}/${r.n}`).join('\n')}`);
  }, 300_000);

  afterAll(() => cleanupTmp());

  it('hears every explanation 5 dB or more above the noise of a fan, and down to -45 dBFS in a quiet room', () => {
    const must = cases.filter((c) => {
      const level = Number(/^speech (-\d+)$/.exec(c.what)?.[1]);
      if (Number.isNaN(level)) return false;
      return (c.room === 'quiet' && level >= -45) || (c.room === 'fan' && level >= -35) || (c.room === 'loud fan' && level >= -25);
    });
    expect(must.length).toBe(talkers.length * (5 + 3 + 1));
    expect(must.filter((c) => !heard(c)).map((c) => c.file)).toEqual([]);
  });

  it('places the explanation where it is: it starts within 0.3 s of the speech and lasts most of the phrase', () => {
    for (const c of cases.filter((x) => x.room === 'quiet' && x.what === 'speech -30')) {
      const u = c.utterances.find((x) => x.speech)!;
      expect(Math.abs(u.start / 1000 - SPEECH_AT)).toBeLessThan(0.3);
      expect(u.voicedSeconds).toBeGreaterThan(2.5);
    }
  });

  it('takes no noise alone for speech: the rooms, door slams, coughs, footsteps, a chair, typing, a beep, a steady tone', () => {
    const noiseOnly = cases.filter((c) => !c.what.startsWith('speech'));
    expect(noiseOnly.length).toBe(ROOMS.length * (1 + NOT_SPEECH.length) + 1);
    expect(noiseOnly.filter(heard).map((c) => `${c.room} | ${c.what}: ${JSON.stringify(c.utterances.filter((u) => u.speech))}`)).toEqual([]);
  });

  it('hears nothing in speech far below a loud fan (the limit, documented)', () => {
    const buried = cases.filter((c) => c.room === 'loud fan' && c.what === 'speech -50');
    expect(buried.filter(heard)).toEqual([]);
  });
});
