import { defineConfig } from 'vitest/config';

// `npm run test:crash-sweep`: the exhaustive crash sweep, kept out of the default suite for its time.
export default defineConfig({
  test: {
    include: ['test/crash-sweep/**/*.sweep.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
