/**
 * `generate` without commander, the path CI and pre-commit hooks take on every run. Built into its
 * own single file (dist/generate.js, no shared chunks to resolve and link) and loaded by main.ts.
 */
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './cli/run.js';
import { generateCommand } from './commands/generate.js';
import type { GenerateOpts } from './cli/argv.js';

// Built, this file holds all the render code: its bytes key the render cache (write/render-cache.ts).
const self = fileURLToPath(import.meta.url);
const rendererFile = basename(self) === 'generate.js' ? self : undefined;

export const runGenerate = (opts: GenerateOpts): Promise<number> => run(() => generateCommand(opts, rendererFile));
