/**
 * `generate --check` when the render cache knows what this spec renders to (write/render-cache.ts):
 * the folder is compared with the remembered manifest without loading the renderer. Built as
 * dist/check.js, Node built-ins only; null means "not known or not equal": main.ts then runs the
 * full check, which renders and prints the diff.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GenerateOpts } from './cli/argv.js';
import { colorLevel, matchesLine } from './cli/color-level.js';
import { folderMatches, readRenderCache, renderKey } from './write/render-cache.js';

export function fastCheck(opts: GenerateOpts): number | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(opts.config);
  } catch {
    return null;
  }
  const key = renderKey(path.join(path.dirname(fileURLToPath(import.meta.url)), 'generate.js'), opts.config, bytes);
  const entry = key ? readRenderCache(key) : null;
  if (!entry || !folderMatches(path.resolve(opts.out), entry)) return null;
  // The same lines the full check prints (cli/output.ts), coloured the same way. (process.stdout
  // loads the tty module only when it is a terminal: node:tty costs ~7 ms of start-up.)
  const yellow = colorLevel(process.stderr) ? '\x1b[33mwarning:\x1b[39m' : 'warning:';
  for (const w of entry.warnings) process.stderr.write(`${yellow} ${w}\n`);
  const ok = colorLevel(process.stdout) ? '\x1b[32mok\x1b[39m' : 'ok';
  process.stdout.write(`${matchesLine(ok, opts.out, opts.config, entry.files)}\n`);
  return 0;
}
