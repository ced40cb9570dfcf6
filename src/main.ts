/**
 * The CLI entry, kept tiny: it is the only module every run loads. `--version` is answered here,
 * the command CI runs on every commit (`generate`, `generate --check`) goes straight to its code,
 * and everything else (help, other commands, any unusual argument) goes through commander.
 */
import { VERSION } from './version.js';
import { parseGenerateArgs, type GenerateOpts } from './cli/argv.js';
import { installSignalHandlers } from './write/interrupt.js';
import * as nodeModule from 'node:module';

// Node 22.1+ keeps V8's compiled code of dist/ between runs (its own cache folder; Node 20 has no
// such API for ES modules, so there the call is absent and skipped).
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

async function generate(opts: GenerateOpts): Promise<number> {
  if (opts.check) {
    // Known spec and an unchanged folder: answered without loading the renderer.
    const { fastCheck } = await import('./check-fast.js');
    const code = fastCheck(opts);
    if (code !== null) return code;
  }
  const { runGenerate } = await import('./fast-generate.js');
  return runGenerate(opts);
}

function finish(p: Promise<number>): void {
  p.then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`ha-gen: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

// Ctrl+C / SIGTERM: exit 130 with nothing half-written (see write/interrupt.ts).
installSignalHandlers();

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const gen = parseGenerateArgs(args);
  finish(gen ? generate(gen) : import('./cli/index.js').then((m) => m.main(process.argv)));
}
