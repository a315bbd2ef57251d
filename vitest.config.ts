import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // packs the package into a temporary consumer folder for the runtime and consumer checks (test/runtimes/)
    globalSetup: ['test/runtimes/global-setup.ts'],
    testTimeout: 120_000,
    // the tests import the built package (dist/), as a user does: `npm test` builds first
  },
});
