/**
 * Shared pieces of the live tests: processes we start (and stop, by PID), systemd unit parsing,
 * and starting a generated service the way its unit would, in its own mount namespace.
 *
 * Every process is started in its own process group (detached) so that stopping it also stops
 * the children it forked (nginx workers); nothing is ever killed by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value, or throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** A process we started: output captured, stopped by its PID (and its own process group). */
export class Proc {
  readonly child: ChildProcess;
  out = '';
  err = '';
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private done = false;
  private lineListeners: Array<(line: string) => void> = [];

  constructor(readonly name: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.out += d;
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) this.lineListeners.forEach((f) => f(l));
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
      this.child.on('error', () => {
        this.done = true;
        resolve({ code: -1, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.done;
  }

  onLine(f: (line: string) => void): void {
    this.lineListeners.push(f);
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.done && this.child.pid) process.kill(this.child.pid, sig);
  }

  /** Signals the process, waits, then SIGKILLs its process group (our own group id) if needed. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (!this.child.pid) return;
    if (!this.done) {
      try {
        process.kill(this.child.pid, sig);
      } catch {
        /* gone */
      }
      await Promise.race([this.exited, sleep(graceMs)]);
    }
    // The group: children (nginx workers) that outlive their parent.
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      /* no such group: everything is gone */
    }
    await Promise.race([this.exited, sleep(1000)]);
  }
}

// ---- systemd units ----------------------------------------------------------------------------------

export type UnitFile = Map<string, Array<[string, string]>>;

export function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      if (!unit.has(section)) unit.set(section, []);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) unit.get(section)?.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return unit;
}

export const unitValues = (u: UnitFile, section: string, key: string) => (u.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
export const unitValue = (u: UnitFile, section: string, key: string) => unitValues(u, section, key).at(-1);

/** systemd's command-line splitting (quotes, backslash escapes) and its prefixes (-, @, :, +, !). */
export function splitExec(cmd: string): { argv: string[]; ignoreFailure: boolean } {
  let s = cmd.trim();
  let ignoreFailure = false;
  while (/^[-@:+!]/.test(s)) {
    if (s[0] === '-') ignoreFailure = true;
    s = s.slice(1);
  }
  const argv: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) argv.push(cur);
      cur = '';
      any = false;
    } else if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else cur += c;
  }
  if (cur || any) argv.push(cur);
  return { argv, ignoreFailure };
}

// ---- a service in its own mount namespace -------------------------------------------------------------

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface NamespacedService {
  /** Generated files: absolute target path -> file in the bundle (bind-mounted read-only over the target). */
  files: Array<{ target: string; source: string }>;
  /** Directories replaced by an empty, writable folder of ours (visible to the test at the returned path). */
  scratch: Array<{ target: string; owner?: string }>;
  /** Commands run inside the namespace before the service (ExecStartPre); a failing one aborts unless ignoreFailure. */
  pre: Array<{ argv: string[]; ignoreFailure: boolean }>;
  argv: string[];
  /** User= of the unit: the service runs as this user after the mounts are in place. */
  user?: string;
  env: NodeJS.ProcessEnv;
  /** Where the scratch folders live on the host. */
  workDir: string;
}

/**
 * Starts a service as its systemd unit would: in a private mount namespace where the generated
 * files appear at their real paths and /run, /var/log... are scratch folders of ours. Returns the
 * process (its PID is the service's main PID: the shell execs it) and the scratch folder of each target.
 */
export async function startNamespaced(name: string, svc: NamespacedService): Promise<{ proc: Proc; scratch: Map<string, string> }> {
  // unshare --propagation private (below) keeps every mount made here out of the host's namespace.
  const lines = ['set -e'];
  const scratch = new Map<string, string>();
  for (const s of svc.scratch) {
    const host = path.join(svc.workDir, s.target.replace(/\//g, '_'));
    await fs.rm(host, { recursive: true, force: true });
    await fs.mkdir(host, { recursive: true });
    scratch.set(s.target, host);
    lines.push(`mkdir -p ${shq(s.target)} 2>/dev/null || true`, `mount --bind ${shq(host)} ${shq(s.target)}`);
    if (s.owner) lines.push(`chown ${shq(s.owner)} ${shq(s.target)}`);
  }
  for (const f of svc.files) {
    if (existsSync(f.target) && statSync(f.target).isFile()) {
      lines.push(`mount --bind -o ro ${shq(f.source)} ${shq(f.target)}`);
    } else {
      // The target does not exist on this machine: its folder becomes a copy with the file added.
      const dir = path.dirname(f.target);
      const host = path.join(svc.workDir, `overlay${dir.replace(/\//g, '_')}`);
      if (!scratch.has(dir)) {
        await fs.rm(host, { recursive: true, force: true });
        await fs.mkdir(host, { recursive: true });
        if (existsSync(dir)) await fs.cp(dir, host, { recursive: true, preserveTimestamps: true });
        scratch.set(dir, host);
        lines.push(`mkdir -p ${shq(dir)} 2>/dev/null || true`, `mount --bind ${shq(host)} ${shq(dir)}`);
      }
      await fs.copyFile(f.source, path.join(scratch.get(dir)!, path.basename(f.target)));
    }
  }
  const asUser = (argv: string[]) => (svc.user && svc.user !== 'root' ? ['setpriv', `--reuid=${svc.user}`, `--regid=${svc.user}`, '--init-groups', '--', ...argv] : argv);
  for (const p of svc.pre) lines.push(`${asUser(p.argv).map(shq).join(' ')}${p.ignoreFailure ? ' || true' : ''}`);
  lines.push(`exec ${asUser(svc.argv).map(shq).join(' ')}`);
  mkdirSync(svc.workDir, { recursive: true });
  const proc = new Proc(name, ['unshare', '-m', '--propagation', 'private', 'bash', '-c', lines.join('\n')], { env: svc.env });
  return { proc, scratch };
}

/** Every file below dir, as paths relative to dir. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  }
  await walk('');
  return out.sort();
}

/** Only the loopback addresses this project's live tests may use. */
export function assertLoopback(address: string, range: [number, number]): void {
  const m = /^127\.0\.0\.(\d+)$/.exec(address);
  if (!m || Number(m[1]) < range[0] || Number(m[1]) > range[1]) throw new Error(`live tests may only use 127.0.0.${range[0]}-${range[1]}; got ${address}`);
}
