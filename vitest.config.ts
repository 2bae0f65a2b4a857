import { defineConfig } from 'vitest/config';

// Two cores on CI: keep parallelism modest so timing-sensitive integration tests
// (which never assert wall-clock tolerances, but do wait on real sockets) are not starved.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' closing line.
    reporters: ['default', ['json', { outputFile: 'node_modules/.cache/argon-voice/vitest-results.json' }]],
  },
});
