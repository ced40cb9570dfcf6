/**
 * Passing results are remembered, keyed by everything the result depends on: the file's bytes, the
 * check, the names and secret names of the bundle, the checking tools' binaries (path, size, mtime)
 * and this ha-gen build. The same file checked by the same tools again is not re-run: many bundles
 * share most of their files. Failures are never cached. HA_GEN_VALIDATE_CACHE=0 turns it off.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Check } from '../render/bundle.js';

function cacheDir(): string | null {
  if (process.env.HA_GEN_VALIDATE_CACHE === '0') return null;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'ha-gen', 'validate-v1');
}

/** Whether results are remembered at all (HA_GEN_VALIDATE_CACHE=0: no, and no key is computed). */
export const cacheEnabled = (): boolean => cacheDir() !== null;

let buildStamp: string | undefined;
function stampOf(p: string): string {
  try {
    const st = statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}`;
  } catch {
    return `${p}:absent`;
  }
}

export function checkKey(parts: { check: Check; contents: Buffer; related: string[]; names: string[]; secrets: string[]; tools: string[] }): string {
  buildStamp ??= stampOf(fileURLToPath(import.meta.url));
  const h = createHash('sha256');
  for (const x of [buildStamp, JSON.stringify(parts.check), ...parts.related, parts.names.join(','), parts.secrets.join(','), ...parts.tools.map(stampOf)]) h.update(x).update('\0');
  h.update(parts.contents);
  return h.digest('hex');
}

export function cachedPass(key: string): string | null {
  const dir = cacheDir();
  if (!dir) return null;
  try {
    return readFileSync(path.join(dir, key.slice(0, 2), key), 'utf8');
  } catch {
    return null;
  }
}

export function rememberPass(key: string, message: string): void {
  const dir = cacheDir();
  if (!dir) return;
  try {
    mkdirSync(path.join(dir, key.slice(0, 2)), { recursive: true });
    writeFileSync(path.join(dir, key.slice(0, 2), key), message);
  } catch {
    /* a cache that cannot be written is only slower */
  }
}
