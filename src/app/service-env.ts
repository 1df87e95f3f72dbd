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
 */
import { setFlagsFromString } from 'node:v8';

export const SERVICE_ENV = {
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024),
  MALLOC_MMAP_THRESHOLD_: String(16 * 1024 * 1024),
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
