#!/usr/bin/env node
// Only the built CLI: `npm install` (prepare) or `npm run build` produces dist/cli.js.
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    process.stderr.write('ha-gen: dist/cli.js is missing; run `npm install` (or `npm run build`) in the ha-gen folder\n');
    process.exit(2);
  }
  throw err;
});
