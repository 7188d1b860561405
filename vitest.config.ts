import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    // PostgreSQL for the store tests: 127.0.0.1:5432 if it answers, else a private server.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Engines and services are real processes: two files at a time fit two cores.
    maxWorkers: 3,
    pool: 'forks',
  },
});
