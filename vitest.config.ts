import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A throwaway PostgreSQL for the Postgres variants, unless STRIPE_CREDITS_TEST_PG names a server.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end suites start the CLI as child processes; two cores on CI.
    maxWorkers: 2,
  },
});
