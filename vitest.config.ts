import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Engines and services are real processes: two files at a time fit two cores.
    maxWorkers: 3,
    pool: 'forks',
  },
});
