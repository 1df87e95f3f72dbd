import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start ffmpeg, brokers and gateways; two cores do not take more than two at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
