/**
 * Live database lab: the generated `hosts` bundle run on this machine. Each inventory host gets a
 * loopback address in 127.0.0.30-49 and, per process, a private mount namespace where /etc is the
 * host's folder of the bundle laid over the real /etc (overlayfs), and /var/lib/postgresql,
 * /run/postgresql and /var/lib/etcd are that host's own folders (kept across restarts).
 * Services start with their unit's ExecStart and User=; nothing is killed by name.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import * as path from 'node:path';
import { Proc, assertLoopback, parseUnit, sleep, splitExec, unitValue, waitFor } from './common.js';

export const DB_RANGE: [number, number] = [30, 49];
/** The lab inventories: the Patroni and streaming tests use disjoint addresses, so they may run at the same time. */
export const LABS = {
  patroni: [
    { name: 'lb1', address: '127.0.0.30', roles: ['lb'] },
    { name: 'app1', address: '127.0.0.40', roles: ['app'] },
    { name: 'app2', address: '127.0.0.41', roles: ['app'] },
    { name: 'db1', address: '127.0.0.31', roles: ['db', 'etcd'] },
    { name: 'db2', address: '127.0.0.32', roles: ['db', 'etcd'] },
    { name: 'db3', address: '127.0.0.33', roles: ['db', 'etcd'] },
  ],
  streaming: [
    { name: 'lb1', address: '127.0.0.34', roles: ['lb'] },
    { name: 'app1', address: '127.0.0.42', roles: ['app'] },
    { name: 'app2', address: '127.0.0.43', roles: ['app'] },
    { name: 'db1', address: '127.0.0.35', roles: ['db'] },
    { name: 'db2', address: '127.0.0.36', roles: ['db'] },
  ],
} as const;
Object.values(LABS).flat().forEach((h) => assertLoopback(h.address, DB_RANGE));

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function labSpec(o: { ha: 'streaming' | 'patroni'; synchronous: boolean }): string {
  return [
    'version: 1',
    'name: home-registry',
    'tier: multi-server',
    'platform: hosts',
    'storage: nfs',
    'database:',
    `  ha: ${o.ha}`,
    '  version: 15',
    `  synchronous: ${o.synchronous}`,
    // This lab checks the lb-hosts placement of the endpoint (test/live/whole-host.test.ts the default, app-hosts).
    ...(o.ha === 'patroni' ? ['  endpoint: lb-hosts'] : []),
    'hosts:',
    ...LABS[o.ha].map((h) => `  - { name: ${h.name}, address: ${h.address}, roles: [${h.roles.join(', ')}] }`),
    '',
  ].join('\n');
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export interface LabHost {
  name: string;
  address: string;
  root: string;
}

/** Prepares a host's folders: its bundle /etc (and /usr/local/sbin) copied, empty state folders. */
export async function prepareHost(bundle: string, work: string, name: string, lab: keyof typeof LABS): Promise<LabHost> {
  const h = LABS[lab].find((x) => x.name === name)!;
  const root = path.join(work, name);
  await fs.mkdir(root, { recursive: true });
  for (const d of ['etc', 'usr/local/sbin']) {
    const src = path.join(bundle, 'hosts', name, d);
    if (existsSync(src)) await fs.cp(src, path.join(root, d.replace(/\//g, '_')), { recursive: true });
  }
  for (const [d, owner] of [['pg', 'postgres'], ['run-pg', 'postgres'], ['etcd', 'etcd']] as const) {
    await fs.mkdir(path.join(root, d), { recursive: true });
    execFileSync('chown', [`${owner}:${owner}`, path.join(root, d)]);
  }
  execFileSync('chmod', ['-R', 'a+rX', root]);
  // The bundle's CA material (pki/), placed as deploy.sh places it on this host: its own pki_files
  // lines (source, path, owner, mode), so a key is readable by its service's user only.
  for (const f of deployPkiFiles(bundle, name)) {
    if (!f.path.startsWith('/etc/')) throw new Error(`lab: pki file outside /etc: ${f.path}`);
    const to = path.join(root, f.path);
    await fs.mkdir(path.dirname(to), { recursive: true, mode: 0o755 });
    await fs.copyFile(path.join(bundle, 'pki', f.src), to);
    execFileSync('chown', [`${f.owner}:${f.owner}`, to]);
    execFileSync('chmod', [f.mode, to]);
  }
  return { name, address: h.address, root };
}

/** The pki files deploy.sh installs on `host` (its `pki_files=(...)` line). */
export function deployPkiFiles(bundle: string, host: string): Array<{ src: string; path: string; owner: string; mode: string }> {
  const text = readFileSync(path.join(bundle, 'deploy.sh'), 'utf8');
  const block = new RegExp(`^  ${host.replace(/[.]/g, '\\.')}\\)\\n([\\s\\S]*?)^    ;;`, 'm').exec(text)?.[1] ?? '';
  const line = /^    pki_files=\((.*)\)$/m.exec(block)?.[1] ?? '';
  return [...line.matchAll(/'([^']*)'/g)].map((m) => {
    const [src, p, owner, mode] = m[1]!.split(' ');
    return { src: src!, path: p!, owner: owner!, mode: mode! };
  });
}

/** A command inside the host's namespace, as a user (the unit's User=). */
export function hostArgv(h: LabHost, user: string, argv: string[]): string[] {
  const lines = [
    'set -e',
    // A private /run (pid files), with the host's own socket folder in it.
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/postgresql',
    `mount -t overlay overlay -o lowerdir=${shq(`${h.root}/etc`)}:/etc /etc`,
    ...(existsSync(`${h.root}/usr_local_sbin`) ? [`mount -t overlay overlay -o lowerdir=${shq(`${h.root}/usr_local_sbin`)}:/usr/local/sbin /usr/local/sbin`] : []),
    `mount --bind ${shq(`${h.root}/pg`)} /var/lib/postgresql`,
    `mount --bind ${shq(`${h.root}/run-pg`)} /run/postgresql`,
    `mount --bind ${shq(`${h.root}/etcd`)} /var/lib/etcd`,
    `exec ${(user === 'root' ? argv : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', ...argv]).map(shq).join(' ')}`,
  ];
  return ['unshare', '-m', '--propagation', 'private', 'bash', '--norc', '--noprofile', '-c', lines.join('\n')];
}

/** Starts the unit's ExecStart (after its ExecStartPre lines) with its User=, in the host's namespace. */
export function startUnit(h: LabHost, unitFile: string, env: Record<string, string>, tag: string): Proc {
  const unit = parseUnit(readFileSync(path.join(h.root, 'etc', 'systemd', 'system', unitFile), 'utf8'));
  const user = unitValue(unit, 'Service', 'User') ?? 'root';
  const exec = splitExec(unitValue(unit, 'Service', 'ExecStart')!);
  return new Proc(`${h.name}:${tag}`, hostArgv(h, user, exec.argv), { env: { PATH: '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...env } });
}

/** Runs a command in the host's namespace and resolves with its output (rejects on failure). */
export function runInHost(h: LabHost, user: string, argv: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<string> {
  const [cmd, ...args] = hostArgv(h, user, argv);
  return new Promise((resolve, reject) => {
    execFile(cmd!, args, { env: { PATH: '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')} on ${h.name}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** One psql command over TCP; resolves true when it succeeded within timeoutMs. */
export function psql(conn: string, sql: string, password: string, timeoutMs = 3000): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', conn, '-c', sql], { env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: '2' }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ ok: !err, out: (stdout + stderr).trim() });
    });
  });
}

/** A bounded writer: one INSERT per ~intervalMs through conn, every acknowledged id recorded. */
export class Writer {
  acked: number[] = [];
  attempts: Array<{ start: number; end: number; ok: boolean }> = [];
  private next = 1;
  private stopAt = 0;
  private done: Promise<void> | null = null;
  constructor(private conn: string, private password: string, private table: string, private intervalMs = 100) {}
  start(maxMs: number): void {
    this.stopAt = Date.now() + maxMs;
    this.done = (async () => {
      while (Date.now() < this.stopAt) {
        const id = this.next++;
        const start = Date.now();
        const r = await psql(this.conn, `INSERT INTO ${this.table}(id) VALUES (${id})`, this.password);
        this.attempts.push({ start, end: Date.now(), ok: r.ok });
        if (r.ok) this.acked.push(id);
        await sleep(this.intervalMs);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopAt = 0;
    await this.done;
  }
  /** Seconds from t until writes succeed again: the end of the first successful write started after the first failure after t. */
  recoveryAfter(t: number): number | null {
    const after = this.attempts.filter((a) => a.start >= t);
    const firstFail = after.findIndex((a) => !a.ok);
    if (firstFail < 0) return after.some((a) => a.ok) ? 0 : null;
    const ok = after.slice(firstFail).find((a) => a.ok);
    return ok ? (ok.end - t) / 1000 : null;
  }
}

let restCa: Buffer | null = null;
/** Patroni's REST API on hosts is HTTPS with a certificate of the bundle's CA: restGet verifies it against pki/ca.crt. */
export function trustBundleCa(bundle: string): void {
  restCa = readFileSync(path.join(bundle, 'pki', 'ca.crt'));
}

/** One request to a member's REST API (https once trustBundleCa ran); null when no HTTP answer came. */
export function restRequest(address: string, p: string, o: { method?: string; scheme?: 'http' | 'https'; headers?: Record<string, string>; cert?: Buffer; key?: Buffer; timeoutMs?: number } = {}): Promise<{ status: number; body: any } | null> {
  const scheme = o.scheme ?? (restCa ? 'https' : 'http');
  return new Promise((resolve) => {
    const opts = { method: o.method ?? 'GET', headers: { connection: 'close', ...(o.headers ?? {}) }, agent: false as const, timeout: o.timeoutMs ?? 1000, ...(scheme === 'https' ? { ca: restCa ?? undefined, cert: o.cert, key: o.key } : {}) };
    const req = (scheme === 'https' ? https : http).request(`${scheme}://${address}:8008${p}`, opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(null));
    req.end();
  });
}

export const restGet = (address: string, p: string) => restRequest(address, p);

/** The cluster as one reachable member sees it. */
export async function clusterState(addresses: string[]): Promise<Array<{ name: string; role: string; state: string; lag?: number | string }> | null> {
  for (const a of addresses) {
    const r = await restGet(a, '/cluster');
    if (r && r.status === 200 && Array.isArray(r.body?.members)) return r.body.members;
  }
  return null;
}

/**
 * One leader, every member streaming and, with `sync` (synchronous_mode), a synchronous standby
 * recorded: Patroni promotes only the standby the /sync key names, and a new leader names one a
 * loop or two after it took over. A leader lost before that leaves no standby allowed to take
 * over (writes stop until it returns), so a fault injected earlier tests that window, not failover.
 */
export async function waitSettled(addresses: string[], members: number, timeoutMs: number, opts: { sync?: boolean } = {}): Promise<string> {
  return waitFor(
    opts.sync ? 'one leader, every member streaming, a synchronous standby named' : 'one leader and every member streaming',
    async () => {
      const m = await clusterState(addresses);
      if (!m || m.length !== members) return null;
      const leaders = m.filter((x) => x.role === 'leader');
      const ok = leaders.length === 1 && leaders[0]!.state === 'running' && m.filter((x) => x.role !== 'leader').every((x) => x.state === 'streaming' || x.state === 'running') && (!opts.sync || m.some((x) => x.role === 'sync_standby'));
      // and exactly one member answers /primary (no stale leader left)
      if (!ok) return null;
      let primaries = 0;
      for (const a of addresses) if ((await restGet(a, '/primary'))?.status === 200) primaries++;
      return primaries === 1 ? leaders[0]!.name : null;
    },
    timeoutMs,
    250,
  );
}

export function postmasterPid(h: LabHost, dataDirRel: string): number {
  return Number(readFileSync(path.join(h.root, 'pg', dataDirRel, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
export const summarize = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(1)} / ${median(xs).toFixed(1)} / ${Math.max(...xs).toFixed(1)} s` : 'n/a');
