/**
 * Running the BUILT command line (node bin/ha-gen.js) the way a user does, in temp folders.
 *
 *   import { ensureBuilt, runCli, tempDir, hashTree } from '../helpers/cli.js';
 *   beforeAll(() => ensureBuilt());                 // builds dist/cli.js if src/ or templates/ are newer
 *   const dir = await tempDir('init');              // removed after the run (see cleanupTempDirs)
 *   const r = await runCli(['init', '--yes'], { cwd: dir });
 *   expect(r.code).toBe(0);
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/ha-gen.js');
export const DIST = path.join(ROOT, 'dist/cli.js');

function newestMtime(p: string): number {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const e of readdirSync(p)) max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

/** Whether dist/cli.js is older than any source it is built from. */
export function buildIsStale(): boolean {
  if (!existsSync(DIST)) return true;
  const built = statSync(DIST).mtimeMs;
  const src = Math.max(...['src', 'templates', 'package.json', 'scripts/build.mjs'].map((p) => newestMtime(path.join(ROOT, p))));
  return src > built;
}

/**
 * Builds dist/cli.js with `node scripts/build.mjs` when it is missing or stale. Safe to call from
 * several test files at once (a lock folder serialises builds). Throws with esbuild's output on failure.
 */
export function ensureBuilt(): void {
  const lock = path.join(ROOT, 'dist', '.test-build-lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // a stale lock (a killed run) older than 2 minutes is taken over
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone already */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      spawnSync('sleep', ['0.2']);
    }
  }
  try {
    if (!buildIsStale()) return;
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`node scripts/build.mjs failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for "the message names X" assertions. */
  output: string;
}

export interface RunOptions {
  cwd?: string;
  /** Added to (or, with value undefined, removed from) the environment. */
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  /** Leave stdin open (a pipe nobody writes to): proves a command does not wait for input. */
  keepStdinOpen?: boolean;
}

/**
 * Runs `node bin/ha-gen.js ...args`. stdin is a pipe (not a TTY), so `init` never waits for
 * input. NO_COLOR, FORCE_COLOR and HA_GEN_REQUIRE_TOOLS are passed through unless opts.env says otherwise.
 */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // vitest sets these in workers; the CLI must not see them
  delete env.VITEST;
  delete env.VITEST_WORKER_ID;
  delete env.VITEST_POOL_ID;
  delete env.FORCE_COLOR;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: stdout + stderr });
    });
    if (opts.keepStdinOpen) {
      if (opts.input) child.stdin.write(opts.input);
      child.on('exit', () => child.stdin.destroy());
    } else child.stdin.end(opts.input ?? '');
  });
}

const made: string[] = [];

/** A fresh folder under the OS temp dir, removed by cleanupTempDirs() (call it in afterAll). */
export async function tempDir(prefix = 'ha-gen-test'): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix.replace(/[^A-Za-z0-9-]/g, '-')}-`));
  made.push(d);
  return d;
}

export async function cleanupTempDirs(): Promise<void> {
  while (made.length) await fs.rm(made.pop()!, { recursive: true, force: true });
}

export interface TreeEntry {
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  sha256?: string;
  target?: string;
}

/** Every entry below dir (relative '/'-paths), with mode and content hash: compare before/after to prove "nothing written". */
export async function hashTree(dir: string): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  async function walk(rel: string): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const abs = path.join(dir, r);
      const st = await fs.lstat(abs);
      if (e.isSymbolicLink()) out[r] = { kind: 'symlink', mode: st.mode & 0o7777, target: await fs.readlink(abs) };
      else if (e.isDirectory()) {
        out[r] = { kind: 'dir', mode: st.mode & 0o7777 };
        await walk(r);
      } else out[r] = { kind: 'file', mode: st.mode & 0o7777, sha256: createHash('sha256').update(await fs.readFile(abs)).digest('hex') };
    }
  }
  await walk('');
  return out;
}

/** Every regular file below dir -> its text. */
export async function readTree(dir: string): Promise<Map<string, string>> {
  const tree = await hashTree(dir);
  const out = new Map<string, string>();
  for (const [rel, e] of Object.entries(tree)) if (e.kind === 'file') out.set(rel, await fs.readFile(path.join(dir, rel), 'utf8'));
  return out;
}

/** Parses a .env file into name -> value. */
export function parseDotEnv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const hit = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (hit) m.set(hit[1]!, hit[2]!);
  }
  return m;
}
