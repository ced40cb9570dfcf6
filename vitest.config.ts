import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import type { TestProjectInlineConfiguration } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * Test projects (run one with `npx vitest run --project NAME`, or `npm run test:NAME`):
 *   unit   in-process tests: spec, render, plan, property, security, golden bundles (no real tool needed)
 *   cli    the built command line (node bin/ha-gen.js) in temp folders
 *   tools  files checked by the real programs (nginx -t, haproxy -c, postgres, shellcheck...)
 *   live   the generated configs started with the real servers on loopback addresses
 *   containers  the generated compose and Swarm bundles started on a Docker engine of the lab's own
 *          (test/containers: images built from Debian packages, a dockerd of its own unless
 *          DOCKER_HOST is set; one file at a time, long time limits)
 * `npm test` (plain `vitest run`) runs them all.
 */
const REAL_TOOL_FILES = [
  'test/security/real-tools.test.ts',
  // generates every tier x platform x storage and validates each bundle with the real tools
  'test/unit/platform-matrix.test.ts',
];

/** What every project shares: the version define, the one-time build, the time limits. */
function project(name: string, include: string[], extra: { exclude?: string[]; fileParallelism?: boolean; globalSetup?: string[]; testTimeout?: number; hookTimeout?: number } = {}): TestProjectInlineConfiguration {
  return {
    define: { __HA_GEN_VERSION__: JSON.stringify(pkg.version) },
    test: {
      name,
      include,
      exclude: ['**/node_modules/**', '**/dist/**', ...(extra.exclude ?? [])],
      // Builds dist/cli.js once when it is older than src/ or templates/ (CLI tests run the built bin).
      // Each project runs it; ensureBuilt() takes a lock and builds only when stale.
      globalSetup: ['test/helpers/global-setup.ts', ...(extra.globalSetup ?? [])],
      testTimeout: extra.testTimeout ?? 60_000,
      hookTimeout: extra.hookTimeout ?? 120_000,
      ...(extra.fileParallelism === undefined ? {} : { fileParallelism: extra.fileParallelism }),
    },
  };
}

export default defineConfig({
  define: { __HA_GEN_VERSION__: JSON.stringify(pkg.version) },
  test: {
    reporters: ['default'],
    projects: [
      project('unit', ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts', 'test/security/**/*.test.ts', 'test/golden/**/*.test.ts'], { exclude: REAL_TOOL_FILES }),
      project('cli', ['test/cli/**/*.test.ts']),
      project('tools', ['test/tools/**/*.test.ts', ...REAL_TOOL_FILES]),
      // Live tests bind fixed loopback addresses and ports: one file at a time (vitest runs a
      // project with fileParallelism false in its own single-worker group, after the others).
      project('live', ['test/live/**/*.test.ts'], { fileParallelism: false }),
      // Docker containers: the lab's dockerd and images are set up once for the project (global
      // setup); files run one at a time in the same sequential group as live.
      project('containers', ['test/containers/**/*.test.ts'], {
        fileParallelism: false,
        globalSetup: ['test/containers/harness/global-setup.ts'],
        testTimeout: 600_000,
        hookTimeout: 900_000,
      }),
    ],
  },
});
