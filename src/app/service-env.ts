/**
 * Environment the recgw services run with (systemd/*.service set it; bench/run.js runs the benches with it, so they
 * measure the service as installed; test/integration/service-units.test.ts checks the units match).
 *
 * MALLOC_TRIM_THRESHOLD_: glibc gives freed heap memory back to the kernel once more than 128 KiB is free at its
 * top, and takes it back page fault by page fault. Sealing and receiving churn through buffers Node allocates per
 * piece (cipher.update's output, MQTT packets) and frees in batches at garbage collection, so that happens all the
 * time; on the bench VM those faults cost ~0.3 ms of kernel CPU per MB sealed, a fifth of the whole. Keeping up to
 * 64 MiB of free heap (less on a Pi's RAM than one recording minute) avoids it: sealing +25-30% there
 * (bench/README.md).
 * MALLOC_MMAP_THRESHOLD_: setting the trim threshold also freezes glibc's sliding mmap threshold at 128 KiB, and
 * then every MiB-sized buffer (a chunk, an MQTT packet) is a fresh mmap with its page faults again; raw mqtt.js
 * ran 30-40% slower that way. Buffers up to 16 MiB come from the heap instead.
 * MALLOC_ARENA_MAX: glibc gives each thread that mallocs an arena of its own (up to 8 per core: V8's compiler and
 * GC helpers, libuv's pool, the sealing workers), and with the trim threshold above each keeps what it once held.
 * Two arenas for all threads: the gateway's peak RSS while recording 3-6 MB lower (bench/README.md, recording),
 * no change in CPU or in the seal and uplink benches.
 */
import { setFlagsFromString } from 'node:v8';

export const SERVICE_ENV = {
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024),
  MALLOC_MMAP_THRESHOLD_: String(16 * 1024 * 1024),
  MALLOC_ARENA_MAX: '2',
} as const;

/**
 * V8's heap growth for the services, which move 1 MiB MQTT messages: the receiver takes each in a fresh buffer, and
 * mqtt.js copies each chunk the gateway publishes (to resend it if need be). Their live heaps are small (~20 MB).
 * Once a mark-compact has set the old generation's limit to ~2.2 times the live heap (V8 picks the factor from how
 * fast the program allocated lately, and both idle between bursts), the room left is less than the young generation
 * can promote, and V8 then starts another mark-compact every few messages for as long as the burst lasts: 12-25 of
 * them per burst instead of none or two, 0.25-0.5 s more CPU per 168-671 MB on the bench VM and a third less
 * throughput (bench/README.md, uplink-goodput). A fixed factor of 3 keeps the room larger. The price is up to ~40 MB
 * more heap before a collection.
 */
export function tuneHeapForBursts(): void {
  setFlagsFromString('--heap-growing-percent=200');
}

/**
 * Node's own flags for the gateway (systemd/recgw.service puts them in ExecStart; the benches start `recgw run`
 * with them). --max-semi-space-size=1 keeps V8's young generation at two 1 MiB semi-spaces: V8 otherwise doubles it,
 * up to 2 x 16 MiB, whenever much survives a scavenge (loading the modules at start, sealing a batch of segments)
 * and gives it back only after the process has idled for a while, which was 14-30 MB of a peak RSS of 120-160 MB
 * while recording four cameras (bench/README.md, recording). The gateway's live heap is small (~16 MB), so small
 * semi-spaces only mean more scavenges of well under a millisecond each. V8 reads the flag when it sets up the heap,
 * before any of our code runs, so it cannot be set from inside; `recgw run` started by hand goes without it.
 */
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=1'] as const;
