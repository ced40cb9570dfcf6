/**
 * The CLI entry, kept tiny: it is the only module every run loads. `--version` is answered here;
 * everything else goes through commander (cli/index.ts), which imports a command's code only when
 * that command runs.
 */
import { VERSION } from './version.js';
import { installSignalHandlers } from './write/interrupt.js';
import * as nodeModule from 'node:module';

// Node 22.1+ keeps V8's compiled code of dist/ between runs (its own cache folder; Node 20 has no
// such API for ES modules, so there the call is absent and skipped).
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// Ctrl+C / SIGTERM: exit 130 with nothing half-written (see write/interrupt.ts).
installSignalHandlers();

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  import('./cli/index.js')
    .then((m) => m.main(process.argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`ha-gen: ${String(e)}\n`);
        process.exitCode = 1;
      },
    );
}
