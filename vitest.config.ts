import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  define: { __HA_GEN_VERSION__: JSON.stringify(pkg.version) },
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/cli.js once when it is older than src/ or templates/ (CLI tests run the built bin).
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Live tests bind fixed loopback addresses and ports: one file at a time for those.
    fileParallelism: true,
    reporters: ['default'],
  },
});
