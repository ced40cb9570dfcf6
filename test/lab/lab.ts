/**
 * The whole-host lab: every lab host is a set of namespaces of this machine that behaves like a
 * server of its own, so a live test can power it off, partition it or freeze it as a whole.
 * README.md next to this file explains the model; the short version:
 *
 * - network: a network namespace per host, `eth0` in it is one end of a veth pair whose other end
 *   is a port of the lab's bridge (`hglab<pid>`), carrying the host's 127.0.x.y address (/16);
 * - files: a mount namespace per host; /etc, /var/lib, /var/log, /usr/local... are overlays over the
 *   machine's folders with a per-host upper folder (the host's "disk", kept across power cycles),
 *   /run and /tmp are per-host folders emptied at every boot, /dev/shm a fresh tmpfs, and the rest
 *   of the machine's file system is read-only inside the host;
 * - processes: a PID namespace per boot (plus UTS and IPC), its init is a small bash loop that
 *   reaps orphans and exits when this Node process goes away (its stdin closes), which makes the
 *   kernel kill every process of the host; every process of the host is also in the host's cgroup
 *   v2 folder (freeze, kill) when the machine has cgroup v2. A process is started with nsenter,
 *   which stays outside the host (its parent, in this machine's PID namespace) and is not a
 *   process of the host: it is never frozen or killed by a fault, only reaps its child and exits
 *   with its status. (Killing it first would leave its child a zombie for this machine's PID 1 to
 *   reap, and the host's init waits for every zombie of its namespace before it can exit.)
 *
 * Only `ip`, `unshare`, `nsenter`, `mount` (util-linux, iproute2), bash, setpriv and env are run;
 * nothing is ever killed by name: processes by PID, process group or cgroup, all of them ours.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

// ---- small helpers -------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws after timeoutMs (every wait of the lab is bounded). */
export async function waitUntil<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 10): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`lab: timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const SYS_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs a program of this machine (ip...) and resolves with its output; rejects with its stderr. */
function run(argv: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, killSignal: 'SIGKILL', env: { PATH: SYS_PATH, LANG: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`lab: ${argv.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

function runSync(argv: string[]): boolean {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 10_000, env: { PATH: SYS_PATH, LANG: 'C' } });
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie is dead for our purposes: it runs no code and holds no socket.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The one-letter state of a process (R, S, D, T, t, Z...) from /proc, or null when it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

function linkIsUp(name: string): boolean {
  try {
    return (parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8'), 16) & 1) === 1;
  } catch {
    return false;
  }
}

/**
 * One long-lived `ip -force -batch -` for link up/down: a fault takes ~1 ms instead of the 15-40 ms
 * of starting `ip` on a busy 2-core machine. Each command is followed by `link show dev lo`, whose
 * answer says the command before it is done; the link's flags in sysfs say whether it worked (if
 * not, the caller runs `ip` once more on its own for the error message).
 */
class IpBatch {
  private child: ChildProcess | null = null;
  private waiters: Array<() => void> = [];
  private partial = '';

  private start(): ChildProcess {
    const c = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: SYS_PATH, LANG: 'C' } });
    c.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.partial += d;
      const lines = this.partial.split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) if (/^1: lo:/.test(l)) this.waiters.shift()?.();
    });
    c.stdin!.on('error', () => {});
    c.on('exit', () => {
      if (this.child === c) this.child = null;
      for (const w of this.waiters.splice(0)) w();
    });
    return c;
  }

  private async cmd(line: string): Promise<void> {
    this.child ??= this.start();
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.child.stdin!.write(`${line}\nlink show dev lo\n`);
    await Promise.race([done, sleep(5000)]);
  }

  async setLink(name: string, up: boolean): Promise<void> {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`lab: bad link name ${name}`);
    await this.cmd(`link set dev ${name} ${up ? 'up' : 'down'}`);
    if (linkIsUp(name) !== up) await run(['ip', 'link', 'set', 'dev', name, up ? 'up' : 'down']);
  }

  /** Deletes a link (both ends of a veth pair) when it exists. */
  async delLink(name: string): Promise<void> {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`lab: bad link name ${name}`);
    if (!linkExists(name)) return;
    await this.cmd(`link del dev ${name}`);
    if (linkExists(name)) await run(['ip', 'link', 'del', 'dev', name]).catch(() => {});
  }

  close(): void {
    const c = this.child;
    this.child = null;
    if (!c) return;
    c.stdin!.end();
    try {
      process.kill(c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// ---- users (the machine's /etc/passwd: every lab host sees it through its /etc overlay) ----------------

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
function passwd(user: string): PasswdEntry {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user || (f[2] === user && /^\d+$/.test(user))) return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
  }
  throw new Error(`lab: no user ${user} in /etc/passwd`);
}

/**
 * Makes the missing folders of `p` below `root` (an overlay's upper folder) with the owner and mode
 * of the machine's folder at the same path: a folder of the upper layer decides the merged
 * folder's attributes, so a plain mkdir would turn /var/tmp (1777) or /var/lib/postgresql
 * (postgres) into root's 0755 on the host.
 */
async function mkdirLikeMachine(root: string, p: string): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  let cur = '';
  for (const part of p.split('/').filter(Boolean)) {
    cur += `/${part}`;
    const target = path.join(root, cur);
    if (existsSync(target)) continue;
    await fs.mkdir(target);
    try {
      const st = await fs.stat(cur);
      if (st.isDirectory()) {
        await fs.chown(target, st.uid, st.gid);
        await fs.chmod(target, st.mode & 0o7777);
      }
    } catch {
      /* not on the machine: a new folder of the host, root's 0755 */
    }
  }
}

// ---- cgroup v2 ------------------------------------------------------------------------------------------

/** Where cgroup v2 is mounted (pure v2: /sys/fs/cgroup; hybrid: /sys/fs/cgroup/unified), or null. */
function cgroup2Mount(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' ');
    const dash = parts.indexOf('-');
    if (dash > 0 && parts[dash + 1] === 'cgroup2') return parts[4]!;
  }
  return null;
}

/** The folder the lab's cgroups go under: this process's own v2 cgroup (0::/path). */
function cgroupParent(): string | null {
  const mnt = cgroup2Mount();
  if (!mnt) return null;
  const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined) return null;
  const dir = path.join(mnt, own);
  // cgroup.kill appeared in Linux 5.14, cgroup.freeze in 5.2: both are needed for the cgroup mode.
  const [major = 0, minor = 0] = os.release().split(/[.-]/).map(Number);
  if (major < 5 || (major === 5 && minor < 14)) return null;
  return existsSync(dir) ? dir : null;
}

// ---- the model ------------------------------------------------------------------------------------------

export interface LabHostSpec {
  name: string;
  /** 127.0.x.y: every lab address is in 127.0.0.0/16 (eth0 carries it as /16), never 127.0.0.0/24's .0/.1 */
  address: string;
}

export type FaultMode = 'cgroup' | 'signals';

export interface LabOptions {
  hosts: LabHostSpec[];
  /**
   * How freeze and power-off reach every process: 'cgroup' (cgroup v2 cgroup.freeze and cgroup.kill
   * on the host's cgroup, the default when available) or 'signals' (SIGSTOP/SIGCONT to every PID in
   * the host's PID namespace; power-off SIGKILLs the namespace's init, the kernel kills the rest).
   */
  faults?: FaultMode;
  /** Keep the run folder (logs, each host's disk) after close(); also HGLAB_KEEP=1. Namespaces, links and processes go anyway. */
  keep?: boolean;
  /** Start every host at creation (default true). */
  powerOn?: boolean;
}

export type HostState = 'off' | 'on' | 'partitioned';

/** Folders that are overlays (machine's folder below, host's own upper folder above): the host's "disk". */
export const OVERLAY_DIRS = ['/etc', '/home', '/opt', '/root', '/srv', '/usr/local', '/var/backups', '/var/cache', '/var/lib', '/var/log', '/var/mail', '/var/spool', '/var/tmp'];
/** Folders that are per-host and emptied at every boot (tmpfs on a real server). */
export const BOOT_DIRS = ['/run', '/tmp'];

interface Boot {
  n: number;
  /** PID (in this machine's PID namespace) of `unshare`, the parent of the host's init. */
  unsharePid: number;
  /** PID of the host's init (PID 1 inside the host). */
  initPid: number;
  child: ChildProcess;
  exited: Promise<void>;
  pidNs: string;
}

export interface LabHost {
  readonly name: string;
  readonly address: string;
  /** The host's folders on this machine: upper/<dir> (disk), run/, tmp/, logs/. */
  readonly dir: string;
  /** Host side of its veth pair (a port of the lab bridge). */
  readonly veth: string;
  readonly mac: string;
  readonly index: number;
  state: HostState;
  frozen: boolean;
  boot: Boot | null;
  bootCount: number;
  cgroup: string | null;
  agent: HostProcess | null;
}

export interface SpawnOptions {
  /** User to run as (name or uid); default root. PostgreSQL and Patroni refuse root. */
  user?: string;
  /** Added to a clean environment: PATH, LANG=C.UTF-8, HOME, USER, LOGNAME of the user. */
  env?: Record<string, string>;
  /** Working directory inside the host; default /. */
  cwd?: string;
  /** Name of the log file (<host dir>/logs/<n>-<name>.log); default the program's base name. */
  name?: string;
  /** Capabilities a non-root user keeps (systemd's AmbientCapabilities=, e.g. cap_net_bind_service). */
  ambientCaps?: string[];
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface PowerOffResult {
  /** Every PID of the host at the moment of the power-off (this machine's numbering). */
  pids: number[];
  /** From the call to the link being down. */
  linkDownMs: number;
  /** From the call to the last process being gone. */
  allGoneMs: number;
}

/** A process running on a lab host; output goes to its log file. */
export class HostProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private done = false;
  constructor(
    readonly host: string,
    readonly name: string,
    readonly argv: string[],
    readonly logFile: string,
    readonly child: ChildProcess,
    readonly boot: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
      child.on('error', () => {
        this.done = true;
        resolve({ code: -1, signal: null });
      });
    });
  }

  /** PID of the wrapper on this machine (`nsenter`, outside the host's PID namespace). */
  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return !this.done;
  }

  /** PID (this machine's numbering) of the program itself: nsenter's child inside the host. */
  mainPid(): number | undefined {
    return childPids(this.pid)[0];
  }

  /** The program's PID as the host sees it (its own PID namespace). */
  hostPid(): number | undefined {
    const p = this.mainPid();
    if (!p) return undefined;
    try {
      const ns = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
      return ns ? Number(ns.at(-1)) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends a signal to the program (not to the nsenter wrapper, which does not forward signals). */
  signal(sig: NodeJS.Signals): void {
    const p = this.mainPid();
    if (!p) return;
    try {
      process.kill(p, sig);
    } catch {
      /* gone */
    }
  }

  /**
   * Signals the program, waits up to graceMs, then SIGKILLs its process group (it runs in a session
   * of its own: its children too, not the nsenter wrapper, which then reaps it and exits).
   */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (this.done) return;
    const main = this.mainPid();
    this.signal(sig);
    await Promise.race([this.exited, sleep(graceMs)]);
    try {
      if (main) process.kill(-main, 'SIGKILL');
      else if (!this.done) process.kill(this.pid, 'SIGKILL'); // nsenter never forked: nothing to orphan
    } catch {
      /* the whole group is gone */
    }
    await Promise.race([this.exited, sleep(2000)]);
  }

  /** The process's output so far. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

// ---- leftovers of runs that died without cleaning up (SIGKILL) ----------------------------------------

const BRIDGE_RE = /^hglab(\d+)(?:n[0-9a-z]+)?$/;
const VETH_RE = /^hg(\d+)(?:n[0-9a-z]+)?v\d+$/;
const DIR_RE = /^hglab-(\d+)-/;

/**
 * Removes what an earlier lab run left behind when it was SIGKILLed: only names this library makes
 * (hglab<pid>..., hg<pid>...v<i>, <tmp>/hglab-<pid>-*), and only when that PID no longer runs. Its
 * namespaces and processes are already gone (their init exits when the run's Node process dies).
 */
export function sweepStale(): string[] {
  const removed: string[] = [];
  const dead = (pid: string) => Number(pid) !== process.pid && !pidAlive(Number(pid));
  let links: string[] = [];
  try {
    links = readdirSync('/sys/class/net');
  } catch {
    /* no sysfs */
  }
  for (const l of links) {
    const m = BRIDGE_RE.exec(l) ?? VETH_RE.exec(l);
    if (m && dead(m[1]!) && runSync(['ip', 'link', 'del', l])) removed.push(`link ${l}`);
  }
  const cg = cgroupParent();
  if (cg) {
    for (const d of readdirSync(cg)) {
      const m = BRIDGE_RE.exec(d);
      if (!m || !dead(m[1]!)) continue;
      try {
        for (const h of readdirSync(path.join(cg, d), { withFileTypes: true })) if (h.isDirectory()) rmdirSync(path.join(cg, d, h.name));
        rmdirSync(path.join(cg, d));
        removed.push(`cgroup ${d}`);
      } catch {
        /* still has processes: leave it */
      }
    }
  }
  for (const d of readdirSync(os.tmpdir())) {
    const m = DIR_RE.exec(d);
    if (!m || !dead(m[1]!) || existsSync(path.join(os.tmpdir(), d, 'KEEP'))) continue;
    rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
    removed.push(`dir ${d}`);
  }
  return removed;
}

// ---- the host's init ------------------------------------------------------------------------------------

/**
 * PID 1 of a lab host (bash). Runs in fresh net, PID, mount, UTS and IPC namespaces made by unshare.
 * Sets up the host's file system view and its network side, prints `mounted` and `up`, then reaps
 * orphans until its stdin (a pipe from the lab's Node process) closes: then it exits and the kernel
 * SIGKILLs every process of the PID namespace.
 *
 * 127.0.0.0/8 on a non-loopback interface: `lo` keeps only 127.0.0.1/32 (the kernel puts
 * 127.0.0.1/8 on it at link up, which would make every 127.x address local), eth0 gets the host's
 * address as /16, and route_localnet=1 (all, default, eth0) lets the kernel route, ARP for and
 * accept 127.x on eth0 (without it ARP for a 127.x target is ignored and 127.x sources are martians).
 * rp_filter=0 (all, eth0): the effective value is the max of the two, and strict mode on
 * distributions that default to it would need a reverse route the 127/8 special-casing can spoil.
 * IPv6 is off on eth0 (no fe80:: address, no router solicitations): loopback-range IPv4 only.
 */
const INIT = String.raw`
set -eu
name=$1 dir=$2 address=$3 machine_mnt=$4 cgroup_procs=$5
shift 5
# Into the host's cgroup first: everything of the host descends from this process.
if [ -n "$cgroup_procs" ]; then echo 0 > "$cgroup_procs"; fi
if [ "$(readlink /proc/self/ns/mnt)" = "$machine_mnt" ]; then
  echo "hglab init: not in a private mount namespace, refusing to mount anything" >&2
  exit 1
fi
hostname "$name"
for d in "$@"; do
  mount -t overlay hglab -o "lowerdir=$d,upperdir=$dir/upper$d,workdir=$dir/work$d" "$d"
done
mount --bind "$dir/run" /run
mkdir -p -m 1777 /run/lock
mount --bind "$dir/tmp" /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev,size=1g hglab-shm /dev/shm
# Everything else of the machine is read-only inside the host (this mount namespace only).
mount -o remount,bind,ro /
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet
echo 1 > /proc/sys/net/ipv4/conf/default/route_localnet
echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter
ip link set lo up
ip -4 addr flush dev lo
ip addr add 127.0.0.1/32 dev lo
echo mounted
read -r _ || exit 1
echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet
echo 0 > /proc/sys/net/ipv4/conf/eth0/rp_filter
ip addr add "$address/16" dev eth0
ip link set eth0 up
echo up
while read -r _; do :; done
`;

const AGENT_SCRIPT = path.join(path.dirname(new URL(import.meta.url).pathname), 'agent.mjs');

// ---- the lab --------------------------------------------------------------------------------------------

let labsInProcess = 0;
const openLabs = new Set<Lab>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of openLabs) lab.closeSync();
  });
}

/** Creates the lab (bridge, folders, cgroups) and, unless powerOn: false, boots every host. */
export async function createLab(opts: LabOptions): Promise<Lab> {
  const lab = new Lab(opts);
  openLabs.add(lab);
  installExitHook();
  try {
    await lab.init();
    if (opts.powerOn !== false) await Promise.all(opts.hosts.map((h) => lab.powerOn(h.name)));
  } catch (e) {
    await lab.close();
    throw e;
  }
  return lab;
}

export class Lab {
  /** hglab<pid> (hglab<pid>n<k> for a further lab in the same process): the bridge's name. */
  readonly bridge: string;
  /** Prefix of the veth names: hg<pid>[n<k>]v<i>. */
  private readonly vethPrefix: string;
  readonly dir: string;
  readonly faults: FaultMode;
  private readonly keep: boolean;
  private readonly hosts = new Map<string, LabHost>();
  private cgroupDir: string | null = null;
  private readonly machineMntNs = readlinkSync('/proc/self/ns/mnt');
  private procCount = 0;
  private readonly ip = new IpBatch();
  private closed = false;
  private bridgeMade = false;

  constructor(private readonly opts: LabOptions) {
    const k = labsInProcess++;
    const tag = `${process.pid}${k ? `n${k.toString(36)}` : ''}`;
    this.bridge = `hglab${tag}`;
    this.vethPrefix = `hg${tag}v`;
    if (`${this.vethPrefix}${opts.hosts.length}`.length > 15) throw new Error(`lab: interface names too long (${this.vethPrefix}...)`);
    this.dir = path.join(os.tmpdir(), `hglab-${process.pid}-${k}`);
    this.keep = opts.keep ?? process.env.HGLAB_KEEP === '1';
    const cg = cgroupParent();
    this.faults = opts.faults ?? (cg ? 'cgroup' : 'signals');
    if (this.faults === 'cgroup' && !cg) throw new Error('lab: faults: cgroup needs cgroup v2 (cgroup.freeze, cgroup.kill)');
    const names = new Set<string>();
    const addrs = new Set<string>();
    opts.hosts.forEach((h, i) => {
      if (!/^[a-z][a-z0-9-]{0,30}$/.test(h.name)) throw new Error(`lab: host name ${JSON.stringify(h.name)}: lower-case letters, digits, '-'`);
      const m = /^127\.0\.(\d{1,3})\.(\d{1,3})$/.exec(h.address);
      // Loopback range only, and inside eth0's 127.0.0.0/16; .0.0, .0.1 (lo) and .255.255 (broadcast) excluded.
      if (!m || Number(m[1]) > 255 || Number(m[2]) > 255 || h.address === '127.0.0.0' || h.address === '127.0.0.1' || h.address === '127.0.255.255') {
        throw new Error(`lab: host ${h.name}: address ${h.address} is not a lab address (127.0.x.y, x,y <= 255, not 127.0.0.0/1 or 127.0.255.255)`);
      }
      if (names.has(h.name) || addrs.has(h.address)) throw new Error(`lab: duplicate host ${h.name} / ${h.address}`);
      names.add(h.name);
      addrs.add(h.address);
      const x = Number(m[1]).toString(16).padStart(2, '0');
      const y = Number(m[2]).toString(16).padStart(2, '0');
      this.hosts.set(h.name, {
        name: h.name,
        address: h.address,
        dir: path.join(this.dir, h.name),
        veth: `${this.vethPrefix}${i}`,
        // Same MAC at every boot: neighbours' ARP entries stay valid across a power cycle, as with a real NIC.
        mac: `02:68:67:00:${x}:${y}`,
        index: i,
        state: 'off',
        frozen: false,
        boot: null,
        bootCount: 0,
        cgroup: null,
        agent: null,
      });
    });
  }

  /** @internal: bridge, folders, cgroups, /etc/hosts of every host. */
  async init(): Promise<void> {
    sweepStale();
    if (/[,:\s]/.test(this.dir)) throw new Error(`lab: ${this.dir}: overlay options cannot hold ',', ':' or spaces`);
    await fs.rm(this.dir, { recursive: true, force: true });
    await fs.mkdir(this.dir, { recursive: true, mode: 0o755 });
    if (this.keep) await fs.writeFile(path.join(this.dir, 'KEEP'), 'HGLAB_KEEP: sweepStale() leaves this folder alone\n');
    const hostsFile = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', ...[...this.hosts.values()].map((h) => `${h.address}\t${h.name}`), ''].join('\n');
    for (const h of this.hosts.values()) {
      for (const d of OVERLAY_DIRS.filter((d) => existsSync(d))) {
        await mkdirLikeMachine(path.join(h.dir, 'upper'), d);
        await fs.mkdir(path.join(h.dir, 'work', d), { recursive: true });
      }
      for (const d of [...BOOT_DIRS, 'logs']) await fs.mkdir(path.join(h.dir, d.replace(/^\//, '')), { recursive: true });
      await fs.chmod(path.join(h.dir, 'tmp'), 0o1777);
      await fs.chmod(path.join(h.dir, 'run'), 0o755);
      await fs.writeFile(path.join(h.dir, 'upper/etc/hosts'), hostsFile);
      await fs.writeFile(path.join(h.dir, 'upper/etc/hostname'), `${h.name}\n`);
    }
    if (this.faults === 'cgroup') {
      this.cgroupDir = path.join(cgroupParent()!, this.bridge);
      await fs.mkdir(this.cgroupDir);
      for (const h of this.hosts.values()) {
        h.cgroup = path.join(this.cgroupDir, h.name);
        await fs.mkdir(h.cgroup);
      }
    }
    // The bridge: no address, STP off (a port forwards as soon as its link is up), multicast flooded
    // (no snooping: VRRP adverts reach every port), IPv6 off, and route_localnet=0 on purpose: with
    // it this machine's own stack (whose lo owns all of 127/8) answers ARP for every lab address.
    await run(['ip', 'link', 'add', 'name', this.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
    this.bridgeMade = true;
    this.linkSysctls(this.bridge);
    await run(['ip', 'link', 'set', this.bridge, 'up']);
    await this.ip.setLink(this.bridge, true); // starts the ip batch process now, not in the first fault
  }

  /** IPv6 off and route_localnet=0 on a link of ours in this machine's namespace. */
  private linkSysctls(link: string): void {
    writeFileSync(`/proc/sys/net/ipv6/conf/${link}/disable_ipv6`, '1');
    writeFileSync(`/proc/sys/net/ipv4/conf/${link}/route_localnet`, '0');
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`lab: no host ${name}`);
    return h;
  }

  get hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  address(name: string): string {
    return this.host(name).address;
  }

  private on(name: string, what: string): LabHost & { boot: Boot } {
    const h = this.host(name);
    if (h.state === 'off' || !h.boot) throw new Error(`lab: ${what}: host ${name} is powered off`);
    return h as LabHost & { boot: Boot };
  }

  // ---- power -------------------------------------------------------------------------------------------

  /**
   * Boots a host: fresh namespaces, its disk (overlay uppers) as it was, /run and /tmp empty, its
   * link up on the bridge. Processes are not restarted: that is the test's job. Resolves with the ms it took.
   */
  async powerOn(name: string): Promise<number> {
    const t0 = performance.now();
    const h = this.host(name);
    if (h.state !== 'off') throw new Error(`lab: powerOn: host ${name} is already on`);
    // The previous boot's veth was deleted by kill(); a lingering one (a failed kill) goes now.
    await this.ip.delLink(h.veth);
    await waitUntil(`${h.veth} of the previous boot to be gone`, () => !linkExists(h.veth), 5000);
    for (const d of BOOT_DIRS) {
      const dir = path.join(h.dir, d.replace(/^\//, ''));
      for (const e of await fs.readdir(dir)) await fs.rm(path.join(dir, e), { recursive: true, force: true });
    }
    if (h.cgroup) writeFileSync(path.join(h.cgroup, 'cgroup.freeze'), '0');
    h.frozen = false;
    const n = ++h.bootCount;
    const initLog = openSync(path.join(h.dir, 'logs', `boot-${n}.log`), 'a');
    const cgroupProcs = h.cgroup ? path.join(h.cgroup, 'cgroup.procs') : '';
    const argv = ['unshare', '--net', '--pid', '--mount', '--uts', '--ipc', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', '--', 'bash', '--norc', '--noprofile', '-c', INIT, 'hglab-init', h.name, h.dir, h.address, this.machineMntNs, cgroupProcs, ...OVERLAY_DIRS.filter((d) => existsSync(d))];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', initLog], env: { PATH: SYS_PATH, LANG: 'C' } });
    closeSync(initLog);
    const lines: string[] = [];
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      partial += d;
      const l = partial.split('\n');
      partial = l.pop()!;
      lines.push(...l);
    });
    child.stdin!.on('error', () => {
      /* init gone: EPIPE */
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const bootLog = () => {
      try {
        return readFileSync(path.join(h.dir, 'logs', `boot-${n}.log`), 'utf8').trim();
      } catch {
        return '';
      }
    };
    /** Resolves when init printed the line; rejects at once when it exited, or after 10 s. */
    const expectLine = async (l: string) => {
      const end = Date.now() + 10_000;
      while (!lines.includes(l)) {
        if (gone) throw new Error(`lab: ${name}: init exited before '${l}': ${bootLog()}`);
        if (Date.now() > end) throw new Error(`lab: ${name}: init did not say '${l}' within 10 s: ${bootLog()}`);
        await sleep(2);
      }
    };
    try {
      await expectLine('mounted');
      const unsharePid = child.pid!;
      const initPid = childPids(unsharePid)[0];
      if (!initPid) throw new Error(`lab: ${name}: no init under unshare ${unsharePid}`);
      h.boot = { n, unsharePid, initPid, child, exited, pidNs: readlinkSync(`/proc/${initPid}/ns/pid`) };
      h.state = 'on';
      await run(['ip', 'link', 'add', 'name', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', h.mac, 'netns', String(initPid)]);
      this.linkSysctls(h.veth);
      await run(['ip', 'link', 'set', h.veth, 'master', this.bridge, 'up']);
      child.stdin!.write('net\n');
      await expectLine('up');
    } catch (e) {
      if (!h.boot) {
        try {
          process.kill(child.pid!, 'SIGKILL'); // unshare: --kill-child takes its init along
        } catch {
          /* gone */
        }
      }
      await this.kill(h).catch(() => {});
      throw e;
    }
    return performance.now() - t0;
  }

  /**
   * Power-off: the link goes down, then every process of the host is SIGKILLed at once (cgroup mode:
   * frozen first, so nothing runs between the link going down and the kill; signals mode: SIGKILL to
   * the host's init, and the kernel kills the rest of its PID namespace). Its namespaces go with its
   * last process; its disk stays.
   */
  async powerOff(name: string): Promise<PowerOffResult> {
    const t0 = performance.now();
    const h = this.on(name, 'powerOff');
    const pids = this.pids(name);
    if (h.cgroup) writeFileSync(path.join(h.cgroup, 'cgroup.freeze'), '1');
    await this.ip.setLink(h.veth, false);
    const linkDownMs = performance.now() - t0;
    const goneAt = await this.kill(h);
    return { pids, linkDownMs, allGoneMs: goneAt - t0 };
  }

  /** SIGKILLs every process of the host and waits for them to be gone (bounded); resolves with when they were. */
  private async kill(h: LabHost): Promise<number> {
    const pids = this.pidsOf(h);
    this.killNow(h);
    const boot = h.boot;
    await waitUntil(`every process of ${h.name} to be gone`, () => [...pids, ...this.pidsOf(h)].every((p) => !pidAlive(p)), 10_000, 1);
    const goneAt = performance.now();
    // The wrappers reap their (killed) child and exit on their own; the init exits once they did.
    await waitUntil(`the nsenter wrappers of ${h.name} to exit`, () => this.wrappersOf(h).length === 0, 5000, 5).catch(() => {});
    if (boot) await Promise.race([boot.exited, sleep(2000)]);
    // The network namespace outlives its processes while a TCP socket they left (FIN_WAIT,
    // LAST_ACK...) still retransmits, up to a minute with the link down: its veth would stay
    // with it. Deleting the veth ends the host's network at once, as the power cut does.
    await this.ip.delLink(h.veth);
    h.boot = null;
    h.state = 'off';
    h.frozen = false;
    h.agent = null;
    if (h.cgroup) writeFileSync(path.join(h.cgroup, 'cgroup.freeze'), '0');
    return goneAt;
  }

  private killNow(h: LabHost): void {
    if (h.cgroup) {
      writeFileSync(path.join(h.cgroup, 'cgroup.kill'), '1');
    } else if (h.boot) {
      // The host's init: when it dies the kernel SIGKILLs every other process of its PID namespace.
      try {
        process.kill(h.boot.initPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // A wrapper stopped by a signals-mode freeze could not reap its killed child.
    for (const p of this.wrappersOf(h)) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
  }

  /** PIDs of the nsenter wrappers (outside the host) of the host's programs that still run. */
  private wrappersOf(h: LabHost): number[] {
    return [...this.wrappers].filter(([, w]) => w.host === h.name).map(([pid]) => pid);
  }

  private readonly wrappers = new Map<number, { host: string }>();
  private track(host: string, child: ChildProcess): void {
    const pid = child.pid;
    if (!pid) return;
    this.wrappers.set(pid, { host });
    child.on('exit', () => this.wrappers.delete(pid));
  }

  /** Link down, processes alive (a cable pulled at the switch). */
  async partition(name: string): Promise<void> {
    const h = this.on(name, 'partition');
    await this.ip.setLink(h.veth, false);
    h.state = 'partitioned';
  }

  /** Link up again after partition(). */
  async heal(name: string): Promise<void> {
    const h = this.on(name, 'heal');
    await this.ip.setLink(h.veth, true);
    h.state = 'on';
  }

  /**
   * Every process of the host stopped at once: cgroup mode writes cgroup.freeze and waits for
   * cgroup.events to say frozen; signals mode SIGSTOPs every PID of the host's PID namespace (and the
   * nsenter wrappers outside it). The kernel's network stack keeps running, as on a hung server:
   * TCP handshakes still complete, nothing answers. Resolves with the ms it took.
   */
  async freeze(name: string): Promise<number> {
    const t0 = performance.now();
    const h = this.on(name, 'freeze');
    if (h.cgroup) {
      writeFileSync(path.join(h.cgroup, 'cgroup.freeze'), '1');
      await waitUntil(`${name} to be frozen`, () => /^frozen 1$/m.test(readFileSync(path.join(h.cgroup!, 'cgroup.events'), 'utf8')), 5000, 1);
    } else {
      // The nsenter wrappers first (they are not the host's, but nsenter answers a stopped child by
      // stopping itself and SIGCONTing the child later), then every process of the PID namespace,
      // repeated until none runs: one forked between the listing and the signal is caught on the next pass.
      for (const p of this.wrappersOf(h)) {
        try {
          process.kill(p, 'SIGSTOP');
        } catch {
          /* gone */
        }
      }
      await waitUntil(`every process of ${name} stopped`, () => {
        const running = this.pids(name).filter((p) => !/^[TtZ]$/.test(processState(p) ?? 'Z'));
        for (const p of running) {
          try {
            process.kill(p, 'SIGSTOP');
          } catch {
            /* gone */
          }
        }
        return running.length === 0;
      }, 5000, 1);
    }
    h.frozen = true;
    return performance.now() - t0;
  }

  /** Resumes every process after freeze(). */
  async thaw(name: string): Promise<number> {
    const t0 = performance.now();
    const h = this.on(name, 'thaw');
    if (h.cgroup) {
      writeFileSync(path.join(h.cgroup, 'cgroup.freeze'), '0');
      await waitUntil(`${name} to be thawed`, () => /^frozen 0$/m.test(readFileSync(path.join(h.cgroup!, 'cgroup.events'), 'utf8')), 5000, 1);
    } else {
      for (const p of [...this.pids(name), ...this.wrappersOf(h)]) {
        try {
          process.kill(p, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
    }
    h.frozen = false;
    return performance.now() - t0;
  }

  /** Every PID of the host (this machine's numbering): its cgroup, or (signals mode) its PID namespace. */
  pids(name: string): number[] {
    return this.pidsOf(this.host(name));
  }

  private pidsOf(h: LabHost): number[] {
    if (h.cgroup) {
      try {
        return readFileSync(path.join(h.cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    }
    if (!h.boot) return [];
    const out: number[] = [];
    const ns = h.boot.pidNs;
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        if (readlinkSync(`/proc/${e}/ns/pid`) === ns) out.push(Number(e));
      } catch {
        /* gone */
      }
    }
    return out;
  }

  // ---- processes -----------------------------------------------------------------------------------

  private hostArgv(h: LabHost & { boot: Boot }, argv: string[], o: SpawnOptions): { argv: string[]; env: Record<string, string> } {
    const user = passwd(o.user ?? 'root');
    const env = { PATH: SYS_PATH, LANG: 'C.UTF-8', HOME: user.home, USER: user.name, LOGNAME: user.name, ...o.env };
    const cwd = o.cwd ?? '/';
    const caps = (o.ambientCaps ?? []).map((c) => `+${c.toLowerCase().replace(/^cap_/, '')}`).join(',');
    const keep = caps ? [`--inh-caps=${caps}`, `--ambient-caps=${caps}`] : [];
    const asUser = user.uid === 0 ? [] : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, `--init-groups`, ...keep, '--'];
    // nsenter enters the host's namespaces; for the PID namespace it forks, and its child (inside
    // the host) joins the host's cgroup ('0' = itself) before it runs anything, starts its own
    // session (its PID is its process group: stop() kills that group, never nsenter), drops to the
    // user, and sets the cwd (setns into a mount namespace moves the cwd to its /).
    const joinCgroup = 'if [ -n "$0" ]; then echo 0 > "$0" || exit 126; fi; exec "$@"';
    const inner = ['/bin/sh', '-c', joinCgroup, h.cgroup ? path.join(h.cgroup, 'cgroup.procs') : '', 'setsid', ...asUser, 'env', '-C', cwd, ...argv];
    return { argv: ['nsenter', '-t', String(h.boot.initPid), '-m', '-u', '-i', '-n', '-p', '--', ...inner], env };
  }

  /** Starts a program on a host (as opts.user), output to <host dir>/logs/<n>-<name>.log. */
  spawn(name: string, argv: string[], o: SpawnOptions = {}): HostProcess {
    const h = this.on(name, `spawn ${argv[0]}`);
    const { argv: full, env } = this.hostArgv(h, argv, o);
    const label = (o.name ?? path.basename(argv[0]!)).replace(/[^A-Za-z0-9_.-]/g, '_');
    const logFile = path.join(h.dir, 'logs', `${String(++this.procCount).padStart(3, '0')}-${label}.log`);
    const fd = openSync(logFile, 'a');
    writeSync(fd, `# ${new Date().toISOString()} on ${name} as ${o.user ?? 'root'}: ${argv.join(' ')}\n`);
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', fd, fd], env, detached: true });
    closeSync(fd);
    this.track(name, child);
    return new HostProcess(name, label, argv, logFile, child, h.boot.n);
  }

  /** Runs a program on a host to its end (bounded: SIGKILL of its process group after timeoutMs). */
  exec(name: string, argv: string[], o: SpawnOptions & { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const h = this.on(name, `exec ${argv[0]}`);
    const { argv: full, env } = this.hostArgv(h, argv, o);
    return new Promise((resolve) => {
      const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env, detached: true });
      this.track(name, child);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin!.on('error', () => {});
      child.stdin!.end(o.input ?? '');
      const timer = setTimeout(() => {
        stderr += `\nlab: timed out after ${o.timeoutMs ?? 30_000} ms`;
        // The program's own process group (it runs setsid), not nsenter: nsenter reaps it and exits.
        const inner = childPids(child.pid!)[0];
        try {
          process.kill(inner ? -inner : child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, o.timeoutMs ?? 30_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ code: -1, signal: null, stdout, stderr: stderr + String(e) });
      });
    });
  }

  // ---- files -----------------------------------------------------------------------------------------

  /**
   * Where a path of the host is visible to the test runner. On: through the host's init
   * (/proc/<pid>/root: the host's own mounts, overlays included). Off: the persistent folder
   * behind it (an overlay's upper folder, or run/ and tmp/), which only holds what the host changed.
   */
  path(name: string, p: string): string {
    if (!p.startsWith('/')) throw new Error(`lab: ${p}: absolute paths only`);
    const h = this.host(name);
    if (h.boot) return path.join(`/proc/${h.boot.initPid}/root`, p);
    const base = [...OVERLAY_DIRS, ...BOOT_DIRS].find((d) => p === d || p.startsWith(`${d}/`));
    if (!base) throw new Error(`lab: ${p} is not on a host's own disk (${[...OVERLAY_DIRS, ...BOOT_DIRS].join(' ')})`);
    return OVERLAY_DIRS.includes(base) ? path.join(h.dir, 'upper', p) : path.join(h.dir, p);
  }

  /** Makes a folder of a host and its parents; while it is off, with the attributes its overlay would show. */
  private async ensureDir(name: string, p: string): Promise<void> {
    const h = this.host(name);
    const target = this.path(name, p);
    if (h.boot || !target.startsWith(path.join(h.dir, 'upper') + '/')) await fs.mkdir(target, { recursive: true });
    else await mkdirLikeMachine(path.join(h.dir, 'upper'), p);
  }

  /** Writes a file on a host (its own view: overlay, run/, tmp/), creating folders; optional mode and owner. */
  async writeFile(name: string, p: string, data: string | Buffer, o: { mode?: number; owner?: string } = {}): Promise<void> {
    const target = this.path(name, p);
    await this.ensureDir(name, path.posix.dirname(p));
    await fs.writeFile(target, data);
    if (o.mode !== undefined) await fs.chmod(target, o.mode);
    if (o.owner) {
      const u = passwd(o.owner);
      await fs.chown(target, u.uid, u.gid);
    }
  }

  async readFile(name: string, p: string): Promise<string> {
    return fs.readFile(this.path(name, p), 'utf8');
  }

  /** Makes a folder on a host (and its parents), optionally owned by a user: /run/postgresql for instance. */
  async mkdir(name: string, p: string, o: { mode?: number; owner?: string } = {}): Promise<void> {
    const target = this.path(name, p);
    await this.ensureDir(name, p);
    if (o.mode !== undefined) await fs.chmod(target, o.mode);
    if (o.owner) {
      const u = passwd(o.owner);
      await fs.chown(target, u.uid, u.gid);
    }
  }

  /**
   * Copies a tree laid out like "/" (a bundle's hosts/<name>/) onto the host's own view: every top
   * path must land in one of the host's own folders (OVERLAY_DIRS, BOOT_DIRS). Modes are kept.
   */
  async install(name: string, tree: string): Promise<string[]> {
    const copied: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const e of await fs.readdir(path.join(tree, rel), { withFileTypes: true })) {
        const r = `${rel}/${e.name}`;
        if (e.isDirectory()) {
          await walk(r);
          continue;
        }
        const target = this.path(name, r);
        await this.ensureDir(name, path.posix.dirname(r));
        await fs.cp(path.join(tree, r), target, { force: true, preserveTimestamps: true, verbatimSymlinks: true });
        copied.push(r);
      }
    };
    await walk('');
    return copied.sort();
  }

  // ---- clients: the test runner cannot reach 127.0.x.y itself, an agent on a host does ------------

  private async agent(name: string): Promise<string> {
    const h = this.on(name, 'agent');
    const sock = path.join(h.dir, 'run', 'hglab', 'agent.sock');
    if (h.agent?.running && h.agent.boot === h.boot.n) return sock;
    await fs.mkdir(path.dirname(sock), { recursive: true });
    // A copy in the host's own /run: the script's folder may be hidden on the host (a checkout under /tmp).
    await fs.copyFile(AGENT_SCRIPT, path.join(h.dir, 'run', 'hglab', 'agent.mjs'));
    h.agent = this.spawn(name, [process.execPath, '/run/hglab/agent.mjs', '/run/hglab/agent.sock'], { name: 'hglab-agent' });
    const agent = h.agent;
    await waitUntil(`the client agent on ${name}`, async () => {
      if (!agent.running) throw new Error(`agent exited: ${agent.log()}`);
      return existsSync(sock) && (await this.ask(sock, '/tcp', { host: '127.0.0.1', port: 1, timeoutMs: 100 }, 2000).then(() => true, () => false));
    }, 10_000, 20);
    return sock;
  }

  private ask(sock: string, what: string, q: unknown, timeoutMs: number): Promise<any> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify(q);
      const req = http.request({ socketPath: sock, path: what, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text));
          } catch (e) {
            reject(e);
          }
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`lab: agent on ${sock} did not answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** An HTTP(S) request made from host `from` (its own network namespace), timed there; ca/cert/key are files on that host. Never throws for network errors. */
  async http(from: string, url: string, o: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; ca?: string; cert?: string; key?: string } = {}): Promise<{ ok: boolean; status?: number; body?: string; error?: string; ms: number }> {
    const sock = await this.agent(from);
    return this.ask(sock, '/http', { url, ...o, timeoutMs: o.timeoutMs ?? 2000 }, (o.timeoutMs ?? 2000) + 5000);
  }

  /** A TCP connect from host `from` to address:port: ok when the handshake completed. */
  async tcp(from: string, address: string, port: number, timeoutMs = 2000): Promise<{ ok: boolean; error?: string; ms: number }> {
    const sock = await this.agent(from);
    return this.ask(sock, '/tcp', { host: address, port, timeoutMs }, timeoutMs + 5000);
  }

  // ---- the end ---------------------------------------------------------------------------------------

  /** Removes everything: processes (by cgroup / PID), namespaces, links, cgroups, the run folder. */
  async close(): Promise<void> {
    if (this.closed) return;
    const errors: string[] = [];
    for (const h of this.hosts.values()) {
      if (h.state !== 'off' || this.pidsOf(h).length) await this.kill(h).catch((e) => errors.push(String(e)));
    }
    this.closeSync();
    if (errors.length) throw new Error(errors.join('\n'));
  }

  /** The synchronous part of close(), also run from the process 'exit' hook. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    openLabs.delete(this);
    this.ip.close();
    for (const h of this.hosts.values()) {
      this.killNow(h);
      for (let i = 0; i < 500 && this.pidsOf(h).some((p) => pidAlive(p)); i++) sleepSync(10);
      h.boot = null;
      h.agent = null;
      h.state = 'off';
    }
    if (this.bridgeMade) runSync(['ip', 'link', 'del', this.bridge]);
    for (const h of this.hosts.values()) {
      for (let i = 0; i < 200 && linkExists(h.veth); i++) sleepSync(10);
      if (linkExists(h.veth)) runSync(['ip', 'link', 'del', h.veth]);
    }
    if (this.cgroupDir) {
      for (const h of this.hosts.values()) {
        for (let i = 0; h.cgroup && existsSync(h.cgroup) && i < 200; i++) {
          try {
            rmdirSync(h.cgroup);
          } catch {
            sleepSync(10);
          }
        }
      }
      try {
        rmdirSync(this.cgroupDir);
      } catch {
        /* left for sweepStale() */
      }
    }
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** For a test's summary line: 12.3 ms. */
export const ms = (v: number) => `${v.toFixed(1)} ms`;
