/**
 * NTP sync state from chrony and systemd output. The samples are shaped exactly as the tools print them
 * (chronyc's CSV is print_report() with the text dropped and signed offsets; timedatectl prints Key=Value);
 * the build machine has neither chronyd nor systemd, so the tools run through an injected runner here.
 */
import { describe, expect, it } from 'vitest';
import { NtpClock, createClockMonitor, HostClock, RtcClock, GpsClock } from '../../src/hal/clock.js';
import {
  chronyClockState,
  parseChronyTracking,
  parseSystemdDurationMs,
  parseTimedatectlShow,
  parseTimesync,
  probeNtp,
  type CommandResult,
  type CommandRunner,
} from '../../src/hal/time/ntp-status.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import { EventEmitter } from 'node:events';

// `chronyc -c -n tracking` on a Pi synchronised to a LAN server: 12 µs slow, 12 ms root delay.
const CHRONY_SYNCED = 'C0A80101,192.168.1.1,3,1795695300.123456789,0.000012345,-0.000004567,0.000031234,-7.412,-0.002,0.054,0.012345678,0.001234567,64.3,Normal\n';
// The same clock 250 ms fast (negative: chrony prints "0.250000000 seconds fast of NTP time" in text mode).
const CHRONY_FAST = 'C0A80101,192.168.1.1,3,1795695300.123456789,-0.250000000,-0.000004567,0.000031234,-7.412,-0.002,0.054,0.012345678,0.001234567,64.3,Normal\n';
// Right after chronyd started, before its first measurement.
const CHRONY_UNSYNC = '00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n';
// The `local stratum 10` fallback: leap Normal, but the reference is our own clock.
const CHRONY_LOCAL = '7F7F0101,,10,1795695300.000000000,0.000000000,0.000000000,0.000000000,-7.412,0.000,0.000,0.000000000,0.000000000,0.0,Normal\n';
// A GPS+PPS refclock through gpsd's SHM: stratum 1, sub-microsecond.
const CHRONY_PPS = '50505300,PPS,1,1795695300.000000000,-0.000000123,0.000000045,0.000000310,-7.412,0.000,0.004,0.000000001,0.000012000,16.0,Normal\n';
// Offline for days: tiny offset, but the dispersion (the error bound) has grown to 0.8 s.
const CHRONY_STALE = 'C0A80101,192.168.1.1,3,1795000000.000000000,0.000100000,0.000000000,0.000031234,-7.412,0.000,0.054,0.012345678,0.800000000,64.3,Normal\n';

const TIMEDATECTL_SYNCED = [
  'Timezone=Asia/Shanghai',
  'LocalRTC=no',
  'CanNTP=yes',
  'NTP=yes',
  'NTPSynchronized=yes',
  'TimeUSec=Thu 2026-11-26 20:15:00 CST',
  'RTCTimeUSec=Thu 2026-11-26 12:15:00 UTC',
  '',
].join('\n');
const TIMEDATECTL_UNSYNCED = TIMEDATECTL_SYNCED.replace('NTPSynchronized=yes', 'NTPSynchronized=no');
const TIMESYNC = [
  'LinkNTPServers=',
  'SystemNTPServers=',
  'FallbackNTPServers=0.debian.pool.ntp.org 1.debian.pool.ntp.org 2.debian.pool.ntp.org 3.debian.pool.ntp.org',
  'ServerName=0.debian.pool.ntp.org',
  'ServerAddress=203.0.113.7',
  'RootDistanceMaxUSec=5s',
  'PollIntervalMinUSec=32s',
  'PollIntervalMaxUSec=34min 8s',
  'PollIntervalUSec=2min 8s',
  // systemd 252 really prints "Ignored=no PacketCount=7" without a comma.
  'NTPMessage={ Leap=0, Version=4, Mode=4, Stratum=2, Precision=-25, RootDelay=6.469ms, RootDispersion=244us, Reference=1D586304, OriginateTimestamp=Thu 2026-11-26 20:14:41 CST, ReceiveTimestamp=Thu 2026-11-26 20:14:41 CST, TransmitTimestamp=Thu 2026-11-26 20:14:41 CST, DestinationTimestamp=Thu 2026-11-26 20:14:41 CST, Ignored=no PacketCount=7, Jitter=12.266ms }',
  'Frequency=-830139',
  '',
].join('\n');
// What both tools say on a machine without systemd (this build machine) and without chronyd.
const NO_SYSTEMD = "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n";
const CHRONYD_DOWN = '506 Cannot talk to daemon\n';

describe('chronyc -c tracking', () => {
  it('parses the CSV line', () => {
    expect(parseChronyTracking(CHRONY_SYNCED)).toEqual({
      refId: 'C0A80101',
      refName: '192.168.1.1',
      stratum: 3,
      refTime: Number('1795695300.123456789'), // more digits than a double holds: compare as parsed
      offsetS: 0.000012345,
      lastOffsetS: -0.000004567,
      rmsOffsetS: 0.000031234,
      frequencyPpm: -7.412,
      residualFreqPpm: -0.002,
      skewPpm: 0.054,
      rootDelayS: 0.012345678,
      rootDispersionS: 0.001234567,
      updateIntervalS: 64.3,
      leap: 'Normal',
    });
  });

  it('rejects what is not the CSV (the text report, an error, a truncated line)', () => {
    expect(parseChronyTracking('Reference ID    : C0A80101 (192.168.1.1)\nStratum         : 3\n')).toBeNull();
    expect(parseChronyTracking(CHRONYD_DOWN)).toBeNull();
    expect(parseChronyTracking('')).toBeNull();
    expect(parseChronyTracking(CHRONY_SYNCED.split(',').slice(0, 10).join(','))).toBeNull();
    expect(parseChronyTracking(CHRONY_SYNCED.replace('0.000012345', 'nan?'))).toBeNull();
  });

  it('turns it into a ClockState: offset is true minus local, synced needs a real reference and a small error bound', () => {
    const st = (csv: string, max = 500): unknown => chronyClockState(parseChronyTracking(csv)!, max);
    expect(st(CHRONY_SYNCED)).toEqual({ source: 'ntp', synced: true, offsetMs: 0.012, maxErrorMs: 7.42 });
    // 250 ms fast: local is ahead, so true - local is negative; still within 500 ms (error bound 257.4 ms).
    expect(st(CHRONY_FAST)).toMatchObject({ source: 'ntp', synced: true, offsetMs: -250 });
    expect(st(CHRONY_FAST, 200)).toMatchObject({ source: 'ntp', synced: false, offsetMs: -250 });
    expect(st(CHRONY_UNSYNC)).toMatchObject({ source: 'rtc', synced: false });
    expect(st(CHRONY_LOCAL)).toMatchObject({ source: 'rtc', synced: false });
    expect(st(CHRONY_PPS)).toMatchObject({ source: 'ntp', synced: true, offsetMs: 0 });
    expect(st(CHRONY_STALE)).toMatchObject({ source: 'ntp', synced: false, offsetMs: 0.1 });
  });
});

describe('timedatectl', () => {
  it('parses show', () => {
    expect(parseTimedatectlShow(TIMEDATECTL_SYNCED)).toEqual({ ntpSynchronized: true, ntp: true, canNtp: true, timezone: 'Asia/Shanghai' });
    expect(parseTimedatectlShow(TIMEDATECTL_UNSYNCED)?.ntpSynchronized).toBe(false);
    expect(parseTimedatectlShow(NO_SYSTEMD)).toBeNull();
  });

  it('parses show-timesync, NTPMessage included', () => {
    expect(parseTimesync(TIMESYNC)).toEqual({
      serverName: '0.debian.pool.ntp.org',
      serverAddress: '203.0.113.7',
      leap: 0,
      stratum: 2,
      rootDelayMs: 6.469,
      rootDispersionMs: 0.244,
      jitterMs: 12.266,
      ignored: false,
      packetCount: 7,
    });
    expect(parseTimesync('ServerName=\nNTPMessage={}\n')).toEqual({});
  });

  it('reads systemd durations', () => {
    expect(parseSystemdDurationMs('21.499ms')).toBe(21.499);
    expect(parseSystemdDurationMs('244us')).toBe(0.244);
    expect(parseSystemdDurationMs('0')).toBe(0);
    expect(parseSystemdDurationMs('1.5s')).toBe(1500);
    expect(parseSystemdDurationMs('1min 4s')).toBe(64_000);
    expect(parseSystemdDurationMs('soon')).toBeUndefined();
  });
});

/** A runner answering from a table; records what ran. */
function fakeRun(table: Record<string, CommandResult>): CommandRunner & { calls: string[] } {
  const calls: string[] = [];
  const run = async (cmd: string, args: string[]): Promise<CommandResult> => {
    const key = [cmd, ...args].join(' ');
    calls.push(key);
    return table[key] ?? { code: null, stdout: '', stderr: '', error: 'ENOENT' };
  };
  return Object.assign(run, { calls });
}
const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });
const fail = (code: number, stderr: string): CommandResult => ({ code, stdout: '', stderr });

describe('probeNtp', () => {
  it('uses chrony when chronyd answers', async () => {
    const run = fakeRun({ 'chronyc -c -n tracking': ok(CHRONY_SYNCED) });
    const r = await probeNtp(run, 500);
    expect(r).toMatchObject({ via: 'chrony', state: { source: 'ntp', synced: true, offsetMs: 0.012 }, detail: { ref: '192.168.1.1', stratum: 3 } });
    expect(run.calls).toEqual(['chronyc -c -n tracking']);
  });

  it('falls back to timedatectl when chronyc is missing or chronyd is down', async () => {
    const missing = fakeRun({ 'timedatectl show': ok(TIMEDATECTL_SYNCED), 'timedatectl show-timesync': ok(TIMESYNC) });
    expect(await probeNtp(missing, 500)).toMatchObject({
      via: 'timedatectl',
      state: { source: 'ntp', synced: true },
      detail: { chrony: 'ENOENT', serverName: '0.debian.pool.ntp.org' },
    });
    const down = fakeRun({ 'chronyc -c -n tracking': fail(1, CHRONYD_DOWN), 'timedatectl show': ok(TIMEDATECTL_UNSYNCED) });
    const r = await probeNtp(down, 500);
    expect(r).toMatchObject({ via: 'timedatectl', state: { source: 'rtc', synced: false }, detail: { chrony: '506 Cannot talk to daemon' } });
    expect(r.state.offsetMs).toBeUndefined(); // systemd knows no offset
    expect(down.calls).not.toContain('timedatectl show-timesync'); // only asked for the log when synced
  });

  it('reports an unsynchronised RTC when nothing answers (this build machine)', async () => {
    const run = fakeRun({ 'chronyc -c -n tracking': { code: null, stdout: '', stderr: '', error: 'ENOENT' }, 'timedatectl show': fail(1, NO_SYSTEMD) });
    expect(await probeNtp(run, 500)).toEqual({
      via: 'none',
      state: { source: 'rtc', synced: false },
      detail: { chrony: 'ENOENT', timedatectl: "System has not been booted with systemd as init system (PID 1). Can't operate." },
    });
  });
});

describe('NtpClock', () => {
  it('keeps the old constructor (logger only) and probes the real tools without throwing', async () => {
    const c = new NtpClock(silentLogger, { intervalMs: 3_600_000 });
    await c.start();
    c.stop();
    // Whatever this machine has, the answer is a ClockState (here: no chronyd, no systemd -> rtc, unsynced).
    expect(['ntp', 'rtc']).toContain(c.state().source);
    expect(typeof c.state().synced).toBe('boolean');
  });

  it('reprobes on its interval and logs only changes', async () => {
    const lines: { level: string; msg: string }[] = [];
    const log = createLogger('t', { level: 'debug', sink: (l) => lines.push(JSON.parse(l)) });
    let answer = CHRONY_UNSYNC;
    const run: CommandRunner = async (cmd) => (cmd === 'chronyc' ? ok(answer) : fail(1, NO_SYSTEMD));
    const c = new NtpClock(log, { maxOffsetMs: 100, intervalMs: 20, run });
    await c.start();
    expect(c.state()).toEqual({ source: 'rtc', synced: false });
    await new Promise((r) => setTimeout(r, 100)); // several probes, same answer
    answer = CHRONY_SYNCED;
    await c.probe();
    expect(c.state()).toEqual({ source: 'ntp', synced: true, offsetMs: 0.012 });
    expect(c.detail()?.via).toBe('chrony');
    await new Promise((r) => setTimeout(r, 100));
    c.stop();
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
  });
});

describe('HostClock (time.source "host")', () => {
  it('is synchronised only when the OS says so; a container that cannot tell is not, unless assumed, and then it says so', async () => {
    const osSynced = new HostClock(silentLogger, { run: fakeRun({ 'timedatectl show': ok(TIMEDATECTL_SYNCED), 'timedatectl show-timesync': ok(TIMESYNC) }) });
    await osSynced.probe();
    expect(osSynced.state()).toEqual({ source: 'system', synced: true });
    const chrony = new HostClock(silentLogger, { run: fakeRun({ 'chronyc -c -n tracking': ok(CHRONY_SYNCED) }) });
    await chrony.probe();
    expect(chrony.state()).toEqual({ source: 'system', synced: true, offsetMs: 0.012 });
    const osNo = new HostClock(silentLogger, { run: fakeRun({ 'timedatectl show': ok(TIMEDATECTL_UNSYNCED) }) });
    await osNo.probe();
    expect(osNo.state()).toEqual({ source: 'system', synced: false });

    // No chronyd, no systemd (this build machine, a container): unknown is not synchronised.
    const none = fakeRun({ 'timedatectl show': fail(1, NO_SYSTEMD) });
    const container = new HostClock(silentLogger, { run: none });
    expect(container.state()).toEqual({ source: 'system', synced: false }); // before the first probe as after it
    await container.probe();
    expect(container.state()).toEqual({ source: 'system', synced: false });
    const assumed = new HostClock(silentLogger, { run: none, assumeSynchronised: true });
    expect(assumed.state()).toEqual({ source: 'system', synced: true, assumed: true });
    await assumed.probe();
    expect(assumed.state()).toEqual({ source: 'system', synced: true, assumed: true });
    // An OS that says yes needs no assumption: the manifest then carries none.
    const both = new HostClock(silentLogger, { run: fakeRun({ 'timedatectl show': ok(TIMEDATECTL_SYNCED) }), assumeSynchronised: true });
    await both.probe();
    expect(both.state()).toEqual({ source: 'system', synced: true });
  });

  it('confirms a stepped clock only by a measurement taken after the step, never by the assumption', async () => {
    let mono = 1_000;
    let answer = TIMEDATECTL_UNSYNCED;
    const run: CommandRunner = async (cmd, args) => (cmd === 'timedatectl' && args[0] === 'show' ? ok(answer) : fail(1, NO_SYSTEMD));
    const c = new HostClock(silentLogger, { run, monotonic: () => mono, assumeSynchronised: true });
    await c.probe(); // at 1000: the OS says no
    expect(c.confirmedSince(500)).toBe(false);
    answer = TIMEDATECTL_SYNCED;
    await c.probe(); // still at 1000: yes
    expect(c.confirmedSince(1_000)).toBe(true);
    expect(c.confirmedSince(1_001)).toBe(false); // a step at 1001 needs a measurement from then on
    mono = 2_000;
    await c.refresh();
    expect(c.confirmedSince(1_001)).toBe(true);
    const assumedOnly = new HostClock(silentLogger, { run: async () => fail(1, NO_SYSTEMD), assumeSynchronised: true });
    await assumedOnly.probe();
    expect(assumedOnly.state().synced).toBe(true);
    expect(assumedOnly.confirmedSince(0)).toBe(false);
  });
});

describe('createClockMonitor', () => {
  it('builds the monitor config time.source names', () => {
    const gps = new EventEmitter();
    expect(createClockMonitor({ source: 'host', maxOffsetMs: 500 }, { log: silentLogger })).toBeInstanceOf(HostClock);
    expect(createClockMonitor({ source: 'host', maxOffsetMs: 500, assumeSynchronised: true }, { log: silentLogger }).state()).toEqual({ source: 'system', synced: true, assumed: true });
    expect(createClockMonitor({ source: 'rtc', maxOffsetMs: 500 }, { log: silentLogger })).toBeInstanceOf(RtcClock);
    expect(createClockMonitor({ source: 'ntp', maxOffsetMs: 500 }, { log: silentLogger })).toBeInstanceOf(NtpClock);
    expect(createClockMonitor({ source: 'gps', maxOffsetMs: 500 }, { log: silentLogger, gps })).toBeInstanceOf(GpsClock);
    expect(() => createClockMonitor({ source: 'gps', maxOffsetMs: 500 }, { log: silentLogger })).toThrow(/gps/);
    expect(new RtcClock().state()).toEqual({ source: 'rtc', synced: false });
  });
});
