/**
 * The only code that touches the output folder. A new bundle is assembled in full in a staging
 * folder beside the output, then swapped in with two renames, so an interrupted run leaves the
 * folder as it was or fully new. The manifest records what ha-gen wrote (with hashes), so files
 * edited by hand or written by someone else are never overwritten or deleted without --force.
 */
import { chmodSync, constants as FS, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { homedir } from 'node:os';
import type { Bundle } from '../render/bundle.js';
import { InterruptedError, OwnershipError, UsageError } from '../errors.js';
import { ENV_FILE } from '../targets/env/index.js';
import { MANIFEST_PATH, readManifestText, type Manifest } from './manifest.js';
import { mergeEnv } from './secrets.js';
import { ensurePki, pkiComplete } from './pki.js';
import { PKI_DIR } from '../targets/env/index.js';
import { listTreeSync, notOurs, sha256, under } from './tree.js';
import { checkInterrupted, writeGuard } from './interrupt.js';

export { MANIFEST_PATH } from './manifest.js';

export { sha256 } from './tree.js';

const STAGING = '.ha-gen-staging-';
const OLD = '.ha-gen-old-';

/** Refuses output folders that would make a mistake expensive. */
export function checkOutDir(out: string): string {
  if (out === '~' || out.startsWith('~/') || out === '') {
    throw new UsageError(`--out ${JSON.stringify(out)}: ha-gen does not expand "~" (your shell does, unquoted) and will not write into your home folder; choose a dedicated folder such as ha-bundle`);
  }
  const abs = path.resolve(out);
  const home = path.resolve(homedir());
  const cwd = path.resolve(process.cwd());
  const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : `${parent}${path.sep}`);
  // The folder is replaced as a whole (staging + swap): never the root, home, the current folder or one of their parents.
  const what = abs === path.parse(abs).root ? 'the file system root' : abs === home ? 'your home folder' : abs === cwd ? 'the current folder' : within(cwd, abs) ? 'a parent of the current folder' : within(home, abs) ? 'a parent of your home folder' : null;
  if (what) throw new UsageError(`--out ${out} resolves to ${abs}, which is ${what}; choose a dedicated folder such as ha-bundle`);
  return abs;
}

async function lstatOrNull(p: string) {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * What lies on the way to a generated file's folder: a symlink (it could lead out of the folder),
 * a missing folder (so the file cannot exist yet), or real folders. Answers are memoised per
 * folder: thousands of files share a few folders.
 */
function folderState(root: string, rel: string, memo: Map<string, 'link' | 'dir' | 'none'>): 'link' | 'dir' | 'none' {
  const known = memo.get(rel);
  if (known) return known;
  let state: 'link' | 'dir' | 'none';
  // (the root itself is only looked at for files directly in it, as rel '')
  const parent = rel.includes('/') ? folderState(root, path.posix.dirname(rel), memo) : rel && memo.get('') === 'none' ? 'none' : 'dir';
  if (parent !== 'dir') state = parent;
  else {
    const st = lstatSync(path.join(root, rel), { throwIfNoEntry: false });
    state = !st ? 'none' : st.isSymbolicLink() ? 'link' : 'dir';
  }
  memo.set(rel, state);
  return state;
}

export interface Plan {
  write: string[];
  unchanged: string[];
  remove: string[];
  conflicts: Array<{ path: string; why: 'edited' | 'foreign' | 'symlink' }>;
}

async function readOwned(out: string): Promise<Manifest | null> {
  // A manifest reached through a symbolic link is not ours.
  for (const rel of [path.dirname(MANIFEST_PATH), MANIFEST_PATH]) if ((await lstatOrNull(path.join(out, rel)))?.isSymbolicLink()) return null;
  try {
    return readManifestText(await fs.readFile(path.join(out, MANIFEST_PATH), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Compares the folder with the bundle: what would be written, removed, or refused. */
export async function planWrite(out: string, bundle: Bundle): Promise<Plan> {
  const old = await readOwned(out);
  const owned = old?.files ?? {};
  const plan: Plan = { write: [], unchanged: [], remove: [], conflicts: [] };
  const memo = new Map<string, 'link' | 'dir' | 'none'>();
  if (!lstatSync(out, { throwIfNoEntry: false })) memo.set('', 'none');
  for (const [rel, file] of bundle.files) {
    const folder = folderState(out, path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel), memo);
    if (folder === 'link') {
      plan.conflicts.push({ path: rel, why: 'symlink' });
      continue;
    }
    const abs = path.join(out, rel);
    let st: import('node:fs').Stats | undefined;
    try {
      // no folder, no file: skip the syscall (and its exception) for every file of a new bundle
      st = folder === 'none' ? undefined : lstatSync(abs, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st) {
      plan.write.push(rel);
      continue;
    }
    if (st.isSymbolicLink()) {
      plan.conflicts.push({ path: rel, why: 'symlink' });
      continue;
    }
    if (!st.isFile()) {
      plan.conflicts.push({ path: rel, why: 'foreign' });
      continue;
    }
    const hash = sha256(readFileSync(abs));
    if (hash === sha256(file.contents)) ((st.mode & 0o777) === file.mode ? plan.unchanged : plan.write).push(rel);
    else if (owned[rel]?.sha256 === hash || rel === MANIFEST_PATH) plan.write.push(rel);
    else plan.conflicts.push({ path: rel, why: owned[rel] ? 'edited' : 'foreign' });
  }
  for (const [rel, entry] of Object.entries(owned)) {
    if (bundle.files.has(rel)) continue;
    const abs = path.join(out, rel);
    const st = await lstatOrNull(abs);
    if (!st) continue;
    if (st.isFile() && sha256(await fs.readFile(abs)) === entry.sha256) plan.remove.push(rel);
    else plan.conflicts.push({ path: rel, why: 'edited' });
  }
  return plan;
}

/** Puts back a folder left mid-swap by a killed run, and drops stale staging folders. */
export async function recoverInterrupted(out: string): Promise<void> {
  const parent = path.dirname(out);
  const base = path.basename(out);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return;
  }
  const old = names.filter((n) => n.startsWith(`.${base}${OLD}`));
  if (old.length && !(await lstatOrNull(out))) {
    await fs.rename(path.join(parent, old[0]!), out);
    old.shift();
  }
  for (const n of [...old, ...names.filter((n) => n.startsWith(`.${base}${STAGING}`))]) {
    await fs.rm(path.join(parent, n), { recursive: true, force: true });
  }
}

export interface WriteResult {
  plan: Plan;
  envCreated: string[];
  /** pki/ files created (CA, certificates, keys). */
  pkiCreated: string[];
}

/**
 * Writes the bundle. Throws OwnershipError (nothing written) when files were edited by hand or
 * not written by ha-gen, unless force. `.env` keeps its values; missing secrets are added.
 */
export async function writeBundle(
  outDir: string,
  bundle: Bundle,
  opts: { force: boolean; randomSecret: (length?: number) => string; onStaged?: () => Promise<void> | void },
): Promise<WriteResult> {
  writeGuard.active++;
  try {
    return await writeBundleGuarded(outDir, bundle, opts);
  } finally {
    writeGuard.active--;
  }
}

async function writeBundleGuarded(
  outDir: string,
  bundle: Bundle,
  opts: { force: boolean; randomSecret: (length?: number) => string; onStaged?: () => Promise<void> | void },
): Promise<WriteResult> {
  const stop = () => checkInterrupted(() => new InterruptedError());
  const out = checkOutDir(outDir);
  stop();
  await recoverInterrupted(out);
  const outStat = await lstatOrNull(out);
  if (outStat && (outStat.isSymbolicLink() || !outStat.isDirectory())) {
    throw new UsageError(`--out ${outDir} exists and is not a folder${outStat.isSymbolicLink() ? ' (it is a symbolic link)' : ''}`);
  }
  // Secrets are never read or written through a link (it could point anywhere, e.g. ~/.ssh).
  const envStat = outStat ? await lstatOrNull(path.join(out, ENV_FILE)) : null;
  if (envStat && !envStat.isFile()) {
    throw new UsageError(`${path.join(outDir, ENV_FILE)} is ${envStat.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; ha-gen keeps secrets in a regular file there and does not follow links (replace it with the file itself)`);
  }
  const plan = await planWrite(out, bundle);
  if (plan.conflicts.length && !opts.force) {
    const lines = plan.conflicts.map((c) => `  ${path.join(outDir, c.path)}  (${{ edited: 'edited by hand', foreign: 'not written by ha-gen', symlink: 'a symbolic link' }[c.why]})`);
    throw new OwnershipError(`refusing to overwrite or delete ${plan.conflicts.length} file(s); nothing was written. Re-run with --force to replace them:\n${lines.join('\n')}`, plan.conflicts.map((c) => c.path));
  }
  stop();
  // Nothing to change (the usual regenerate in CI or a hook): leave the folder and its mtimes alone.
  if (outStat && envStat && !plan.write.length && !plan.remove.length && !plan.conflicts.length) {
    const envPath = path.join(out, ENV_FILE);
    if (!mergeEnv(readFileSync(envPath, 'utf8'), bundle.secrets, () => '').added.length && pkiComplete(path.join(out, PKI_DIR), bundle.certs)) {
      if ((envStat.mode & 0o777) !== 0o600) chmodSync(envPath, 0o600);
      return { plan, envCreated: [], pkiCreated: [] };
    }
  }

  const parent = path.dirname(out);
  await fs.mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const staging = path.join(parent, `.${path.basename(out)}${STAGING}${suffix}`);
  const oldDir = path.join(parent, `.${path.basename(out)}${OLD}${suffix}`);
  // A symlink in the folder that a generated path passes through (hosts -> /etc) is replaced by a real folder, never followed.
  const generatedDirs = new Set<string>();
  for (const rel of bundle.files.keys()) for (let d = path.posix.dirname(rel); d !== '.'; d = path.posix.dirname(d)) generatedDirs.add(d);
  try {
    await fs.mkdir(staging, { mode: 0o755 });
    // What the umask removes from a 0777 folder (made inside staging, which others cannot write
    // to) tells which file modes need a chmod after the write.
    const probe = path.join(staging, '.umask');
    await fs.mkdir(probe, { mode: 0o777 });
    const umask = ~(await fs.stat(probe)).mode & 0o777;
    await fs.rmdir(probe);
    // 1. keep everything in the folder that is not ours to replace (user files, .env, .git)
    if (outStat) {
      const tree = listTreeSync(out);
      const removed = new Set(plan.remove);
      const conflicted = new Set(plan.conflicts.map((c) => c.path));
      for (const [rel, kind] of tree) {
        stop();
        if (bundle.files.has(rel) || removed.has(rel)) continue;
        if (rel === MANIFEST_PATH) continue;
        if (kind === 'symlink' && (conflicted.has(rel) || generatedDirs.has(rel))) continue;
        if (rel.split('/').some((_, i, parts) => i > 0 && generatedDirs.has(parts.slice(0, i).join('/')) && tree.get(parts.slice(0, i).join('/')) === 'symlink')) continue;
        await fs.mkdir(path.dirname(path.join(staging, rel)), { recursive: true });
        await fs.cp(path.join(out, rel), path.join(staging, rel), { preserveTimestamps: true, verbatimSymlinks: true, mode: FS.COPYFILE_FICLONE });
      }
    }
    // 2. the generated files
    // Synchronous calls: thousands of small files, and a promise per syscall cost more than the I/O.
    // Folders first, each once, parents before children (sorted): no mkdir that fails and retries.
    const dirs = new Set([...bundle.files.keys()].map((rel) => path.posix.dirname(rel)).filter((d) => d !== '.'));
    const parents = new Set<string>();
    for (const d of dirs) for (let p = path.posix.dirname(d); p !== '.' && !parents.has(p); p = path.posix.dirname(p)) parents.add(p);
    for (const d of [...new Set([...parents, ...dirs])].sort()) mkdirSync(path.join(staging, d), { mode: 0o755 });
    // Folders are 0755 whatever the umask: deploy.sh unpacks hosts/<host>/ onto / of a host.
    if (umask & 0o755) for (const d of [...parents, ...dirs]) chmodSync(path.join(staging, d), 0o755);
    for (const [rel, file] of bundle.files) {
      stop();
      const abs = path.join(staging, rel);
      writeFileSync(abs, file.contents, { mode: file.mode, flag: 'wx' });
      if (file.mode & umask) chmodSync(abs, file.mode);
    }
    // 3. secrets: existing values stay, new names get random values; created 0600 (open mode, so
    //    never readable by others even for an instant, whatever the umask), never wider
    const envPath = path.join(staging, ENV_FILE);
    const existing = await fs.readFile(envPath, 'utf8').catch(() => null);
    const merged = mergeEnv(existing, bundle.secrets, opts.randomSecret);
    if (merged.added.length || existing === null) {
      await fs.rm(envPath, { force: true });
      const fh = await fs.open(envPath, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, 0o600);
      try {
        await fh.chmod(0o600);
        await fh.writeFile(merged.text);
      } finally {
        await fh.close();
      }
    }
    await fs.chmod(envPath, 0o600);
    // 3b. the CA and certificates the bundle names (pki/): existing ones kept
    const pkiCreated = ensurePki(path.join(staging, PKI_DIR), bundle.certs, `ha-gen CA of ${path.basename(out)}`);
    await opts.onStaged?.();
    stop();
    // 4. swap: out -> old, staging -> out. From here a signal waits until the swap is done; a
    //    SIGKILL between the two renames is undone by recoverInterrupted on the next run.
    writeGuard.swapping = true;
    if (outStat) await fs.rename(out, oldDir);
    await fs.rename(staging, out);
    writeGuard.swapping = false;
    // The new bundle is in place: a failure to remove the old copy is cleaned up by the next run.
    if (outStat) await fs.rm(oldDir, { recursive: true, force: true }).catch(() => undefined);
    return { plan, envCreated: merged.added, pkiCreated };
  } catch (err) {
    writeGuard.swapping = false;
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (outStat && !(await lstatOrNull(out)) && (await lstatOrNull(oldDir))) await fs.rename(oldDir, out).catch(() => undefined);
    throw err;
  }
}

export interface Drift {
  path: string;
  kind: 'changed' | 'missing' | 'extra' | 'mode';
  diff: string;
}

/** Every file below dir (relative, '/'-separated); symlinks are listed, never followed. Synchronous: thousands of small calls. */

/**
 * What `generate --check` reports: every difference between the folder and the bundle. Reads with
 * synchronous calls (one process, nothing to overlap: the thread-pool round trips cost more than
 * the reads) and loads the diff library only when something differs.
 */
export async function checkDrift(outDir: string, bundle: Bundle): Promise<Drift[]> {
  const out = path.resolve(outDir);
  const found: Array<{ path: string; kind: Drift['kind']; before: string; after: string; labels: [string, string]; diff?: string }> = [];
  const tree = listTreeSync(out);
  for (const [rel, file] of bundle.files) {
    const abs = under(out, rel);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st || !st.isFile()) {
      found.push({ path: rel, kind: 'missing', before: '', after: file.contents, labels: ['(missing)', '(generated)'] });
      continue;
    }
    const disk = readFileSync(abs, 'utf8');
    if (disk !== file.contents) {
      found.push({ path: rel, kind: 'changed', before: disk, after: file.contents, labels: ['(on disk)', '(generated)'] });
    } else if ((st.mode & 0o777) !== file.mode) {
      found.push({ path: rel, kind: 'mode', before: '', after: '', labels: ['', ''], diff: `mode of ${rel} is ${(st.mode & 0o777).toString(8)}, generated ${file.mode.toString(8)}\n` });
    }
  }
  for (const [rel] of tree) {
    if (bundle.files.has(rel) || notOurs(rel)) continue;
    let disk = '';
    try {
      disk = readFileSync(under(out, rel), 'utf8');
    } catch {
      /* unreadable: shown as empty */
    }
    found.push({ path: rel, kind: 'extra', before: disk, after: '', labels: ['(on disk)', '(not generated)'] });
  }
  if (!found.length) return [];
  const { createTwoFilesPatch } = await import('diff');
  const drift = found.map((f) => ({ path: f.path, kind: f.kind, diff: f.diff ?? createTwoFilesPatch(`a/${f.path}`, `b/${f.path}`, f.before, f.after, f.labels[0], f.labels[1]) }));
  return drift.sort((a, b) => (a.path < b.path ? -1 : 1));
}
