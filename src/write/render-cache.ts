/**
 * What a spec renders to, remembered by `generate` so `generate --check` can skip the render.
 *
 * render() is a pure function of the spec file's bytes, the --config name (it appears in headers)
 * and the built code (BUILD_ID below), so those (and the Node version) form the key. The entry holds
 * the sha256 of the manifest the render produced, which lists every file's sha256 and mode. A
 * check with a known key compares the folder against that manifest: when the manifest on disk is
 * byte-for-byte the expected one and every file, mode and extra matches it, the render would find
 * no drift either. Any difference (or no entry) falls back to the full render, which prints the
 * diff. The cache lives in the user's cache folder, written only by ha-gen, never in the bundle:
 * a hand-edited manifest cannot vouch for itself. HA_GEN_RENDER_CACHE=0 turns it off.
 * Node built-ins only: the cached `generate --check` (check-fast.ts) loads this without the renderer.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { MANIFEST_PATH } from './manifest.js';
import { listTreeSync, notOurs, sha256 } from './tree.js';

export interface RenderCacheEntry {
  /** sha256 and mode of the manifest the render produced. */
  manifest: string;
  manifestMode: number;
  /** Files in the bundle (for the summary line). */
  files: number;
  /** resolveSpec warnings, printed again on every check as the full path would. */
  warnings: string[];
}

function cacheDir(): string | null {
  if (process.env.HA_GEN_RENDER_CACHE === '0') return null;
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'ha-gen', 'render-v1');
}

// The sha256 of every built file of dist/, written in by scripts/build.mjs after the build; run
// from source (tests) there is none, and no cache.
declare const __HA_GEN_BUILD_ID__: string | undefined;
const BUILD_ID = typeof __HA_GEN_BUILD_ID__ === 'string' ? __HA_GEN_BUILD_ID__ : undefined;

/** The key for rendering `specBytes` read from --config `config`; null when there is no cache. */
export function renderKey(config: string, specBytes: Buffer): string | null {
  if (!BUILD_ID || !cacheDir()) return null;
  const h = createHash('sha256');
  for (const part of ['ha-gen render-v1', process.version, BUILD_ID, config]) h.update(part).update('\0');
  return h.update(specBytes).digest('hex');
}

export function readRenderCache(key: string): RenderCacheEntry | null {
  const dir = cacheDir();
  if (!dir) return null;
  try {
    const e = JSON.parse(readFileSync(path.join(dir, `${key}.json`), 'utf8')) as RenderCacheEntry;
    return typeof e.manifest === 'string' && Number.isInteger(e.manifestMode) && Number.isInteger(e.files) && Array.isArray(e.warnings) ? e : null;
  } catch {
    return null;
  }
}

export function writeRenderCache(key: string, entry: RenderCacheEntry): void {
  const dir = cacheDir();
  if (!dir) return;
  try {
    mkdirSync(dir, { recursive: true });
    // rename: a concurrent reader sees the old entry or the new one, never half of it
    const tmp = path.join(dir, `.${key}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, path.join(dir, `${key}.json`));
    prune(dir);
  } catch {
    /* a cache that cannot be written is only slower */
  }
}

/** Every spec edit adds an entry (a few hundred bytes): past MAX_ENTRIES the oldest go. */
const MAX_ENTRIES = 500;
function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names.map((n) => ({ n, t: statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, names.length - MAX_ENTRIES + 100)) rmSync(path.join(dir, n), { force: true });
}

/**
 * True when `out` holds the expected manifest and exactly the files it lists (bytes and modes),
 * and nothing the full check would call extra. False at the first difference.
 */
export function folderMatches(out: string, expected: RenderCacheEntry): boolean {
  let manifest: { files?: Record<string, { sha256?: string; mode?: string }> };
  try {
    const abs = path.join(out, MANIFEST_PATH);
    const st = lstatSync(abs);
    if (!st.isFile() || (st.mode & 0o777) !== expected.manifestMode) return false;
    const text = readFileSync(abs);
    if (sha256(text) !== expected.manifest) return false;
    manifest = JSON.parse(text.toString('utf8'));
  } catch {
    return false;
  }
  const files = manifest.files;
  if (!files || typeof files !== 'object') return false;
  for (const [rel, e] of Object.entries(files)) {
    const abs = path.join(out, rel);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st?.isFile() || (st.mode & 0o777) !== parseInt(String(e.mode), 8)) return false;
    if (rel === MANIFEST_PATH) continue;
    try {
      if (sha256(readFileSync(abs)) !== e.sha256) return false;
    } catch {
      return false;
    }
  }
  for (const rel of listTreeSync(out).keys()) if (!Object.hasOwn(files, rel) && !notOurs(rel)) return false;
  return true;
}
