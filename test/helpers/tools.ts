/**
 * Real-tool availability for tests. A test that needs a program either runs it, or skips LOUDLY
 * (console.warn) when the program is absent; with HA_GEN_REQUIRE_TOOLS=1 (CI) a missing program
 * is a failure instead of a skip.
 *
 *   import { skipUnlessTool } from '../helpers/tools.js';
 *   const tools = skipUnlessTool(['nginx', 'haproxy']);
 *   describe.skipIf(tools.skip)('real nginx', () => { ... });
 *
 *   // or inside a test / hook:
 *   if (!(await requireTool('psql'))) return;   // returns false (and warns) when absent and allowed
 */
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pgBinDir } from '../../src/validate/checkers.js';

/** True when HA_GEN_REQUIRE_TOOLS=1: every missing tool fails the suite. */
export const REQUIRE_TOOLS = process.env.HA_GEN_REQUIRE_TOOLS === '1';

/** PostgreSQL server programs are not on PATH on Debian: the same lookup validate uses. */
export { pgBinDir };

const PG_PROGRAMS = new Set(['postgres', 'initdb', 'pg_ctl', 'pg_ctlcluster', 'pg_basebackup', 'pg_controldata', 'pg_rewind']);
const cache = new Map<string, string | null>();

/** Absolute path of a program (PATH, or PostgreSQL's versioned bin folder), or null. Synchronous. */
export function toolPath(bin: string): string | null {
  if (cache.has(bin)) return cache.get(bin)!;
  let found: string | null = null;
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  if (PG_PROGRAMS.has(bin)) {
    const pg = pgBinDir();
    if (pg) dirs.unshift(pg);
  }
  for (const d of dirs) {
    const p = path.join(d, bin);
    try {
      accessSync(p, constants.X_OK);
      found = p;
      break;
    } catch {
      /* next */
    }
  }
  cache.set(bin, found);
  return found;
}

/** Whether a program is installed (synchronous: usable at describe time). */
export function toolAvailable(bin: string): boolean {
  return toolPath(bin) !== null;
}

/** Whether a program is installed. */
export async function haveTool(bin: string): Promise<boolean> {
  return toolAvailable(bin);
}

export class MissingToolError extends Error {
  constructor(readonly missing: string[], what?: string) {
    super(`${what ? `${what}: ` : ''}required tool(s) missing: ${missing.join(', ')} (HA_GEN_REQUIRE_TOOLS=1 turns a missing tool into a failure; install them, e.g. with .ci/run's package list)`);
    this.name = 'MissingToolError';
  }
}

/**
 * For describe.skipIf / it.skipIf: { skip: false } when every program is installed. When one is
 * missing: throws MissingToolError if HA_GEN_REQUIRE_TOOLS=1, otherwise console.warn()s and
 * returns { skip: true, reason }.
 */
export function skipUnlessTool(bins: string[], what?: string): { skip: boolean; reason?: string } {
  return skipUnlessPresent(bins.filter((b) => !toolAvailable(b)), what);
}

/** Whether an npm package resolves from this project (a devDependency a checker runs, e.g. esbuild). */
export function packageAvailable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** skipUnlessTool for npm packages a checker needs instead of a program (k6: esbuild, typescript, @types/k6). */
export function skipUnlessPackage(names: string[], what?: string): { skip: boolean; reason?: string } {
  return skipUnlessPresent(names.filter((n) => !packageAvailable(n)), what);
}

function skipUnlessPresent(missing: string[], what?: string): { skip: boolean; reason?: string } {
  if (!missing.length) return { skip: false };
  if (REQUIRE_TOOLS) throw new MissingToolError(missing, what);
  const reason = `${what ? `${what}: ` : ''}SKIPPED because ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not installed (set HA_GEN_REQUIRE_TOOLS=1 to make this a failure)`;
  console.warn(`\n*** ${reason} ***\n`);
  return { skip: true, reason };
}

/** Inside a test: true when the tool is there; false (with a loud warning) when absent and allowed; throws under HA_GEN_REQUIRE_TOOLS=1. */
export async function requireTool(bin: string, what?: string): Promise<boolean> {
  return !skipUnlessTool([bin], what).skip;
}

/** Same for several tools at once. */
export async function requireTools(bins: string[], what?: string): Promise<boolean> {
  return !skipUnlessTool(bins, what).skip;
}
