// A room for the speech tests (test/helpers/room.ts drives it): a loudspeaker and a microphone in one acoustic space.
// It runs in its own process so the sound keeps its pace whatever the test process is busy with.
//
// - The microphone: a TCP server; each connection (one run of a gateway's simulated microphone reading it with
//   ffmpeg's amovie) gets a WAV header and then the room's sound, 48 kHz mono 16-bit, in real time from the moment it
//   connects. The room's sound: a noise bed looped, plus what the loudspeaker plays, plus what is said in the room.
// - The loudspeaker: a FIFO the gateway's ALSA speaker device writes into (the ALSA `file` plugin, raw 48 kHz mono
//   16-bit). It is read only as fast as the sound is played into the room, so the speaker's ffmpeg plays in real
//   time as it would to a real card. What it plays reaches the microphone `speakerDb` quieter (across the room).
//
// Usage: node room-process.js <port-file> <bed.raw> <speaker.fifo> <speakerDb>; prints "ready <port>" to stdout. Commands on
// stdin, one JSON object a line: {"say": "<file.raw>", "db": <gain>} mixes that sound in from now on.
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { setInterval } from 'node:timers';

const RATE = 48000;
const TICK_MS = 20;
/** Sound sent ahead of real time, so a microphone never waits for the room. */
const LEAD = RATE / 10;

const [, , portFile, bedPath, fifoPath, speakerDbText] = process.argv;
/** Raw 16-bit samples of a file, copied out (a Buffer's memory may be shared and unaligned). */
const samplesOf = (path) => {
  const b = fs.readFileSync(path);
  return Int16Array.from({ length: b.length >> 1 }, (_, i) => b.readInt16LE(i * 2));
};
const bed = samplesOf(bedPath);
const speakerGain = 10 ** (Number(speakerDbText) / 20);
const fifo = fs.openSync(fifoPath, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);

/** Sounds being said: samples and the room sample they start at. */
const sayings = [];
/** What the speaker wrote and the room has not yet played. */
let speakerQueue = Buffer.alloc(0);
const clients = new Set();
const t0 = process.hrtime.bigint();
let made = 0;

function wavHeader() {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(0xffffffff, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(RATE, 24);
  h.writeUInt32LE(RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(0xffffffff, 40);
  return h;
}

/** Reads what the speaker has written, up to `bytes` (never more: the speaker is held to real time). */
function readSpeaker(bytes) {
  if (speakerQueue.length >= bytes) return;
  const buf = Buffer.alloc(bytes - speakerQueue.length);
  try {
    const n = fs.readSync(fifo, buf, 0, buf.length, null);
    speakerQueue = Buffer.concat([speakerQueue, buf.subarray(0, n)]);
  } catch (err) {
    if (err.code !== 'EAGAIN') throw err;
  }
}

function tick() {
  const due = Number((process.hrtime.bigint() - t0) / 1000n) * (RATE / 1e6) + LEAD;
  const n = Math.floor(due) - made;
  if (n <= 0) return;
  readSpeaker(n * 2);
  const out = Buffer.alloc(n * 2);
  const fromSpeaker = Math.floor(speakerQueue.length / 2);
  for (let i = 0; i < n; i++) {
    const at = made + i;
    let v = bed[at % bed.length];
    if (i < fromSpeaker) v += speakerQueue.readInt16LE(i * 2) * speakerGain;
    for (const s of sayings) {
      const k = at - s.from;
      if (k >= 0 && k < s.samples.length) v += s.samples[k] * s.gain;
    }
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2);
  }
  speakerQueue = speakerQueue.subarray(Math.min(fromSpeaker, n) * 2);
  made += n;
  for (let i = sayings.length - 1; i >= 0; i--) if (made - sayings[i].from >= sayings[i].samples.length) sayings.splice(i, 1);
  for (const c of clients) c.write(out);
}

const server = net.createServer((sock) => {
  sock.on('error', () => clients.delete(sock));
  sock.on('close', () => clients.delete(sock));
  sock.write(wavHeader());
  clients.add(sock);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  fs.writeFileSync(portFile, String(port));
  process.stdout.write(`ready ${port}\n`);
});
setInterval(tick, TICK_MS);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.say) {
    sayings.push({ samples: samplesOf(cmd.say), gain: 10 ** ((cmd.db ?? 0) / 20), from: made });
    process.stdout.write(`said ${cmd.say}\n`);
  }
});
process.stdin.on('end', () => process.exit(0));
