import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    // The real-cluster test needs KUBECONFIG: its own config and `npm run test:k8s`.
    exclude: [...configDefaults.exclude, 'test/k8s/**'],
    // PostgreSQL for the store tests: 127.0.0.1:5432 if it answers, else a private server.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    testTimeout: 60_000,
    // expect.poll waits for a state the real service or a real browser reaches in its own time:
    // its default second is too short on a loaded 2-core machine (it only waits while unmet).
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 60_000,
    // Engines and services are real processes: two files at a time fit two cores.
    maxWorkers: 3,
    pool: 'forks',
  },
});
