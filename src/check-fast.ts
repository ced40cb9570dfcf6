/**
 * `generate --check` when the render cache knows what this spec renders to (write/render-cache.ts):
 * the folder is compared with the remembered manifest without loading the renderer (Node built-ins
 * only). null means "not known or not equal": the generate command then runs the full check, which
 * renders and prints the diff.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { GenerateOpts } from './commands/generate.js';
import { matchesLine, say, warn } from './cli/output.js';
import { folderMatches, readRenderCache, renderKey } from './write/render-cache.js';

export function fastCheck(opts: GenerateOpts): number | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(opts.config);
  } catch {
    return null;
  }
  const key = renderKey(opts.config, bytes);
  const entry = key ? readRenderCache(key) : null;
  if (!entry || !folderMatches(path.resolve(opts.out), entry)) return null;
  // the same lines the full check prints (commands/generate.ts)
  entry.warnings.forEach(warn);
  say(matchesLine(opts.out, opts.config, entry.files));
  return 0;
}
