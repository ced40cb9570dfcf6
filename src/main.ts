import { main } from './cli/index.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`ha-gen: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
