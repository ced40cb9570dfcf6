/**
 * `generate` without commander, the path CI and pre-commit hooks take on every run. Built into its
 * own single file (dist/generate.js, no shared chunks to resolve and link) and loaded by main.ts.
 */
import { run } from './cli/run.js';
import { generateCommand } from './commands/generate.js';
import type { GenerateOpts } from './cli/argv.js';

export const runGenerate = (opts: GenerateOpts): Promise<number> => run(() => generateCommand(opts));
