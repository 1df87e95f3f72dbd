import { defineConfig } from 'vitest/config';

// Long soak and chaos runs (`npm run soak`), kept out of `npm test`. RECGW_SOAK_MINUTES sets the length.
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.ts'],
    testTimeout: 0,
    hookTimeout: 120_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
