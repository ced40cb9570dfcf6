import * as path from 'node:path';
import { validateBundle, type CheckResult } from '../validate/index.js';
import { err, out, progress } from '../cli/output.js';

export async function validateCommand(dir: string, opts: { json?: boolean }): Promise<number> {
  const requireTools = process.env.HA_GEN_REQUIRE_TOOLS === '1';
  const live = !opts.json && process.stderr.isTTY;
  const started = performance.now();
  const results = await validateBundle(dir, {
    requireTools,
    onResult: (r, done, total) => {
      if (live) process.stderr.write(`\r${err.dim(`checking ${done}/${total}: ${r.file}`)}\x1b[K`);
    },
  });
  if (live) process.stderr.write('\r\x1b[K');
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  const totals = { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ bundle: path.resolve(dir), requireTools, ...totals, seconds: Number(seconds), results }, null, 2)}\n`);
  } else {
    const sorted = [...results].sort((a, b) => (a.file === b.file ? (a.tool < b.tool ? -1 : 1) : a.file < b.file ? -1 : 1));
    for (const r of sorted) {
      const mark = r.status === 'passed' ? out.green('✔ passed ') : r.status === 'failed' ? out.red('✘ failed ') : out.yellow('- skipped');
      process.stdout.write(`${mark} ${r.tool.padEnd(8)} ${r.file} ${out.dim(`(${r.ms} ms)`)}\n`);
      if (r.status !== 'passed' && r.message) process.stdout.write(`${r.message.split('\n').map((l) => `      ${l}`).join('\n')}\n`);
    }
    if (totals.skipped && !requireTools) progress(err.yellow(`warning: ${totals.skipped} check(s) skipped because a tool is missing; HA_GEN_REQUIRE_TOOLS=1 makes that a failure`));
    process.stdout.write(`${totals.failed ? out.red('validation failed') : out.green('validation passed')}: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped in ${seconds}s\n`);
  }
  return totals.failed ? 1 : 0;
}
