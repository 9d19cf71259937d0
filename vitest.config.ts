import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'jambonz-adapter/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: keep the native-heavy suites (whisper, chromium) from fighting each other.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
