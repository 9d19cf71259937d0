import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // the public entry points (package.json "exports", tsconfig "paths") from the sources, as one module graph
    alias: [
      { find: /^voicebot\/([a-z]+)$/, replacement: fileURLToPath(new URL('./src/$1/index.ts', import.meta.url)) },
    ],
  },
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
