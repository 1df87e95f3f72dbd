/**
 * Environment the recgw services run with (systemd/*.service set it; bench/run.js runs the benches with it, so they
 * measure the service as installed; test/integration/service-units.test.ts checks the units match).
 *
 * MALLOC_TRIM_THRESHOLD_: glibc gives freed heap memory back to the kernel once more than 128 KiB is free at its
 * top, and takes it back page fault by page fault. Sealing and receiving churn through buffers Node allocates per
 * piece (cipher.update's output, MQTT packets) and frees in batches at garbage collection, so that happens all the
 * time; on the bench VM those faults cost ~0.3 ms of kernel CPU per MB sealed, a fifth of the whole. Keeping up to
 * 64 MiB of free heap (less on a Pi's RAM than one recording minute) avoids it: sealing +25-30% there
 * (bench/README.md). Setting it also ends glibc's sliding mmap threshold, which is what we want for steady work.
 */
export const SERVICE_ENV = {
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024),
} as const;
