/**
 * Running real tools on generated files without touching the machine: a private mount namespace
 * (`unshare -m`, or `unshare -rm` without root) with our own /etc/hosts (Docker service names and
 * inventory hosts resolve to loopback), users the configs name, and tmpfs over /run and /var/log.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { exec, stripFinalNewline, type ExecOptions } from './exec.js';

export interface ToolRun {
  exitCode: number;
  output: string;
  timedOut: boolean;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

let unshareMode: Promise<'root' | 'user' | 'none'> | undefined;
/** Whether mount namespaces work here, tried once. */
export function namespaceMode(): Promise<'root' | 'user' | 'none'> {
  unshareMode ??= (async () => {
    const args = isRoot() ? ['-mpf', '--kill-child', 'true'] : ['-rmpf', '--kill-child', 'true'];
    try {
      const r = await exec('unshare', args, { timeout: 5000 });
      if (r.exitCode === 0) return isRoot() ? 'root' : 'user';
    } catch {
      /* no unshare */
    }
    return 'none';
  })();
  return unshareMode;
}

export interface Sandbox {
  dir: string;
  hostsFile: string;
  passwdFile: string;
  groupFile: string;
}

const EXTRA_USERS = ['nginx', 'haproxy', 'caddy', 'www-data', 'postgres', 'etcd'];

export async function makeSandbox(dir: string, names: string[]): Promise<Sandbox> {
  const hostsFile = path.join(dir, 'hosts');
  const uniq = [...new Set(['localhost', ...names])];
  await fs.writeFile(hostsFile, `127.0.0.1 ${uniq.join(' ')}\n::1 localhost\n`);
  const passwd = await fs.readFile('/etc/passwd', 'utf8').catch(() => '');
  const group = await fs.readFile('/etc/group', 'utf8').catch(() => '');
  const haveU = new Set(passwd.split('\n').map((l) => l.split(':')[0]));
  const haveG = new Set(group.split('\n').map((l) => l.split(':')[0]));
  let uid = 64000;
  const addU = EXTRA_USERS.filter((u) => !haveU.has(u)).map((u) => `${u}:x:${uid++}:${uid}:${u}:/nonexistent:/usr/sbin/nologin`);
  const addG = EXTRA_USERS.filter((g) => !haveG.has(g)).map((g, i) => `${g}:x:${65000 + i}:`);
  const passwdFile = path.join(dir, 'passwd');
  const groupFile = path.join(dir, 'group');
  await fs.writeFile(passwdFile, `${passwd.trimEnd()}\n${addU.join('\n')}\n`);
  await fs.writeFile(groupFile, `${group.trimEnd()}\n${addG.join('\n')}\n`);
  return { dir, hostsFile, passwdFile, groupFile };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs argv inside the namespace. `mkdirs` are created under the tmpfs mounts (e.g. /var/log/nginx).
 * Without namespaces the command runs as it is (names may then fail to resolve: said in the result).
 */
export async function runIsolated(
  sb: Sandbox,
  argv: string[],
  opts: { env?: Record<string, string>; cwd?: string; mkdirs?: string[]; timeoutMs?: number; input?: string } = {},
): Promise<ToolRun> {
  const mode = await namespaceMode();
  const execOpts: ExecOptions = {
    timeout: opts.timeoutMs ?? 20000,
    env: { ...opts.env, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: sb.dir },
    extendEnv: false,
    cwd: opts.cwd,
    input: opts.input,
  };
  let cmd: string;
  let args: string[];
  if (mode === 'none') {
    [cmd, ...args] = argv as [string, ...string[]];
  } else {
    const mounts = [
      `mount --bind ${q(sb.hostsFile)} /etc/hosts`,
      `mount --bind ${q(sb.passwdFile)} /etc/passwd`,
      `mount --bind ${q(sb.groupFile)} /etc/group`,
      'mount -t tmpfs tmpfs /run',
      'mount -t tmpfs tmpfs /var/log',
      ...(existsSync('/var/cache') ? ['mount -t tmpfs tmpfs /var/cache'] : []),
      ...(existsSync('/var/lib/nginx') ? ['mount -t tmpfs tmpfs /var/lib/nginx'] : []),
      ...(opts.mkdirs ?? []).map((d) => `mkdir -p ${q(d)}`),
    ];
    const script = `set -e; ${mounts.join('; ')}; exec ${argv.map(q).join(' ')}`;
    cmd = 'unshare';
    // A PID namespace too: when unshare ends (a timeout, ha-gen interrupted), --kill-child ends
    // its child and with it everything started inside (an etcd in the background, say).
    args = [mode === 'root' ? '-mpf' : '-rmpf', '--kill-child', '--propagation', 'private', 'sh', '-c', script];
  }
  const r = await exec(cmd, args, execOpts);
  return { exitCode: r.exitCode ?? (r.timedOut ? 124 : 1), output: String(r.all ?? '').trim(), timedOut: !!r.timedOut };
}

export async function which(bin: string): Promise<string | null> {
  if (bin.includes('/')) return existsSync(bin) ? bin : null;
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, bin);
    if (existsSync(p)) return p;
  }
  return null;
}

/** One command of runEach / runIsolatedEach, with stdin from a file when given. */
export interface EachRun {
  argv: string[];
  stdin?: string;
}

/**
 * A shell script running commands in `streams` sequences side by side, each command's output and
 * exit code in its own file of dir; and, after it ran, each command's result.
 */
async function each(dir: string, runs: EachRun[], streams: number, run: (script: string) => Promise<ToolRun>): Promise<ToolRun[]> {
  await fs.mkdir(dir, { recursive: true });
  const at = (i: number, ext: string) => path.join(dir, `${i}.${ext}`);
  const n = Math.max(1, Math.min(streams, runs.length));
  const line = (r: EachRun, i: number) => `${r.argv.map(q).join(' ')}${r.stdin ? ` < ${q(r.stdin)}` : ''} > ${q(at(i, 'out'))} 2>&1; echo $? > ${q(at(i, 'rc'))}`;
  const seqs = Array.from({ length: n }, (_, k) => runs.flatMap((r, i) => (i % n === k ? [line(r, i)] : [])).join('\n'));
  const r = await run(n === 1 ? seqs[0]! : `${seqs.map((s) => `(\n${s}\n) &`).join('\n')}\nwait`);
  return Promise.all(
    runs.map(async (_, i) => {
      const rc = await fs.readFile(at(i, 'rc'), 'utf8').catch(() => null);
      const output = await fs.readFile(at(i, 'out'), 'utf8').catch(() => '');
      // no exit code: the shell could not start (or set up the namespace), or time ran out first
      if (rc === null || !/^[0-9]+\s*$/.test(rc)) return { exitCode: r.timedOut ? 124 : r.exitCode || 1, output: output || r.output, timedOut: r.timedOut };
      return { exitCode: Number(rc), output, timedOut: false };
    }),
  );
}

/**
 * Several commands in one namespace (one set-up instead of one each), in `streams` sequences side
 * by side: each has its own output and exit code, as if run alone with runIsolated.
 */
export async function runIsolatedEach(sb: Sandbox, runs: string[][], opts: { env?: Record<string, string>; mkdirs?: string[]; timeoutMs?: number; streams?: number } = {}): Promise<ToolRun[]> {
  const { streams = 1, timeoutMs = 20000 * runs.length, ...rest } = opts;
  const dir = await fs.mkdtemp(path.join(sb.dir, 'each-'));
  const rs = await each(dir, runs.map((argv) => ({ argv })), streams, (script) => runIsolated(sb, ['sh', '-c', script], { ...rest, timeoutMs }));
  return rs.map((r) => ({ ...r, output: r.output.trim() }));
}

/**
 * Several commands through one shell (one program started from here instead of one each), one
 * after another: each has its own output and exit code, as exec would give them.
 */
export async function runEach(dir: string, runs: EachRun[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ToolRun[]> {
  const rs = await each(dir, runs, 1, async (script) => {
    const r = await exec('sh', ['-c', script], { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 30000 * runs.length });
    return { exitCode: r.exitCode ?? (r.timedOut ? 124 : 1), output: r.all, timedOut: r.timedOut };
  });
  return rs.map((r) => ({ ...r, output: stripFinalNewline(r.output) }));
}
