import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start ffmpeg, brokers and gateways; two cores do not take more than two at once.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      // Unit tests share a worker's module cache (no module mocks, no global patches that outlive a file):
      // importing the code again for each file was a third of their time.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
    ],
  },
});
