import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    // the tests import the built package (dist/), as a user does: `npm test` builds first
  },
});
