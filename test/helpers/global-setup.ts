/** vitest globalSetup: build dist/cli.js once (if stale) before any test file runs the bin. */
import { ensureBuilt } from './cli.js';

export default function setup(): void {
  ensureBuilt();
}
