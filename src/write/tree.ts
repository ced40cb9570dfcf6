/**
 * The output folder as the drift check sees it, shared by the full check (write/index.ts) and the
 * render-cache check (write/render-cache.ts, loaded by the built CLI: Node built-ins only).
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { ENV_FILE, MANIFEST_DIR, PKI_DIR } from '../targets/env/index.js';

export const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export type TreeEntry = 'file' | 'symlink' | 'other';

/**
 * A '/'-path below an absolute folder. No path.join: the parts are already clean (bundle paths and
 * directory entries), and normalising hundreds of long paths was a measurable part of --check.
 */
export const under = (dir: string, rel: string) => (rel ? `${dir}/${rel}` : dir);

/** Every non-folder below dir, by '/'-path (a missing dir is empty). */
export function listTreeSync(dir: string, rel = '', out = new Map<string, TreeEntry>()): Map<string, TreeEntry> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(under(dir, rel), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) listTreeSync(dir, r, out);
    else out.set(r, e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other');
  }
  return out;
}

/** Paths a drift check never calls extra: the secrets (.env, pki/), git's folder and the manifest's folder. */
export const notOurs = (rel: string) => rel === ENV_FILE || rel.startsWith(`${PKI_DIR}/`) || rel.startsWith('.git/') || rel.startsWith(`${MANIFEST_DIR}/`);
