/**
 * The load-balancer lab: generated hosts-platform LB configs started with their unit's ExecStart
 * on 127.0.0.20, stand-in app instances on 127.0.0.21-23, wrk as the load, and the faults
 * (kill -9, SIGTERM with draining, restart). Used by test/live/lb.test.ts and scripts/bench-lb.mjs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import * as path from 'node:path';
import { assertLoopback, listFiles, parseUnit, Proc, sleep, splitExec, startNamespaced, unitValue, unitValues, waitFor } from './common.js';

export type LbKind = 'nginx' | 'haproxy' | 'caddy';
export const LB_KINDS: LbKind[] = ['nginx', 'haproxy', 'caddy'];

/** Loopback addresses of this lab (the LB tests own 127.0.0.20-29). */
export const LAB = {
  lb: '127.0.0.20',
  backends: ['127.0.0.21', '127.0.0.22', '127.0.0.23'],
  db: '127.0.0.24',
  httpPort: 18080,
  statsPort: 18404,
  appPort: 18210,
  healthPath: '/health',
  maxBodySize: '8m',
} as const;
for (const a of [LAB.lb, LAB.db, ...LAB.backends]) assertLoopback(a, [20, 29]);

/** The spec the lab generates its bundles from: platform hosts, one LB host, three app hosts. */
export function labSpec(kind: LbKind): string {
  return [
    'version: 1',
    'name: lblab',
    'tier: single-server',
    'platform: hosts',
    'storage: nfs',
    'app:',
    `  port: ${LAB.appPort}`,
    `  healthPath: ${LAB.healthPath}`,
    `  maxBodySize: ${LAB.maxBodySize}`,
    'loadBalancer:',
    `  kind: ${kind}`,
    `  httpPort: ${LAB.httpPort}`,
    `  statsPort: ${LAB.statsPort}`,
    'hosts:',
    `  - { name: lb1, address: ${LAB.lb}, roles: [lb] }`,
    ...LAB.backends.map((a, i) => `  - { name: app${i + 1}, address: ${a}, roles: [app] }`),
    `  - { name: db1, address: ${LAB.db}, roles: [db] }`,
    '',
  ].join('\n');
}

/** Renders the lab bundle for one LB with the built CLI (node bin/ha-gen.js generate). */
export async function generateLabBundle(root: string, kind: LbKind, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const specFile = path.join(dir, 'ha-gen.yaml');
  await fs.writeFile(specFile, labSpec(kind));
  const out = path.join(dir, 'bundle');
  const r = await run([process.execPath, path.join(root, 'bin/ha-gen.js'), 'generate', '--config', specFile, '--out', out], 60_000);
  if (r.code !== 0) throw new Error(`ha-gen generate failed for ${kind} (exit ${r.code}):\n${r.output}`);
  return out;
}

function run(argv: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, output });
    });
  });
}

// ---- HTTP helpers ------------------------------------------------------------------------------------

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request on its own connection. With expectContinue the body is sent only after the server's
 * 100 Continue, so a refusal (413) arrives as a response instead of a broken pipe.
 */
export function request(url: string, opts: { method?: string; body?: Buffer; headers?: Record<string, string>; socketPath?: string; timeoutMs?: number; expectContinue?: boolean } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { connection: 'close', ...opts.headers };
    if (opts.expectContinue) headers.expect = '100-continue';
    if (opts.body) headers['content-length'] = String(opts.body.length);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET', headers, socketPath: opts.socketPath, agent: false, setHost: headers.host !== '' },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout ${url}`)));
    req.on('error', reject);
    if (opts.expectContinue) req.on('continue', () => req.end(opts.body));
    else req.end(opts.body);
  });
}

// ---- backends ------------------------------------------------------------------------------------------

const BACKEND_SCRIPT = path.join(path.dirname(new URL(import.meta.url).pathname), 'lb-backend.mjs');

export class Backend {
  proc: Proc | null = null;
  listeningAt = 0;
  firstRequestAt = 0;

  constructor(readonly host: string, readonly port: number, readonly healthPath: string, readonly drainMs: number, private script = BACKEND_SCRIPT) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const p = new Proc(`backend ${this.host}`, [process.execPath, this.script, this.host, String(this.port), this.healthPath, String(this.drainMs)]);
    this.proc = p;
    this.listeningAt = 0;
    this.firstRequestAt = 0;
    p.onLine((line) => {
      try {
        const ev = JSON.parse(line) as { event: string; t: number };
        if (ev.event === 'listening') this.listeningAt = ev.t;
        if (ev.event === 'first-request') this.firstRequestAt = ev.t;
      } catch {
        /* not ours */
      }
    });
    await waitFor(`backend ${this.address} to listen`, () => this.listeningAt || (!p.running && Promise.reject(new Error(p.err))), 5000, 10);
  }

  /** kill -9: the instance vanishes with connections open, as in a crash. */
  async kill9(): Promise<number> {
    const t = Date.now();
    this.proc?.signal('SIGKILL');
    await this.proc?.exited;
    return t;
  }

  /** SIGTERM: the backend drains (fails /health, keeps serving drainMs, then closes) and exits. */
  async terminate(): Promise<{ at: number; exitedAt: number }> {
    const at = Date.now();
    this.proc?.signal('SIGTERM');
    await this.proc?.exited;
    return { at, exitedAt: Date.now() };
  }

  async requests(): Promise<number> {
    const r = await request(`http://${this.address}/__count`);
    return (JSON.parse(r.body) as { requests: number }).requests;
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGKILL', 2000);
  }
}

// ---- load balancers ------------------------------------------------------------------------------------

export interface RunningLb {
  kind: LbKind;
  label: string;
  url: string;
  proc: Proc;
  /** Host folder behind each scratch target (/run, /var/log/...). */
  scratch: Map<string, string>;
  /** Time (ms since epoch) the LB first had `backend` out of rotation after `since`, or null if it never did by `until`. */
  ejectedAt(backend: Backend, since: number, until: number): Promise<number | null>;
  /** Extra figures for the report (e.g. how often nginx retried the dead backend). */
  deadBackendAttempts?(backend: Backend, since: number): Promise<number>;
  stop(): Promise<void>;
}

const PASSWD_HOME: Record<string, string> = { root: '/root', caddy: '/var/lib/caddy', 'www-data': '/var/www', haproxy: '/var/lib/haproxy' };

function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Starts the LB of a generated hosts bundle as its unit says: ExecStartPre lines, then ExecStart, as
 * User=, with RuntimeDirectory= and EnvironmentFile= (written from .env, as deploy.sh does), the
 * bundle's hosts/lb1/ files bind-mounted at their real paths, and scratch /run and /var/log.
 */
export async function startGeneratedLb(kind: LbKind, bundle: string, workDir: string): Promise<RunningLb> {
  const hostDir = path.join(bundle, 'hosts/lb1');
  const unitText = await fs.readFile(path.join(hostDir, `etc/systemd/system/${kind}.service`), 'utf8');
  const unit = parseUnit(unitText);
  const execStart = unitValue(unit, 'Service', 'ExecStart');
  if (!execStart) throw new Error(`${kind}.service has no ExecStart`);
  const user = unitValue(unit, 'Service', 'User') ?? 'root';
  const files = (await listFiles(hostDir)).filter((f) => !f.startsWith('etc/systemd/')).map((f) => ({ target: `/${f}`, source: path.join(hostDir, f) }));
  const scratch: Array<{ target: string; owner?: string }> = [{ target: '/run' }, { target: '/var/log' }];
  for (const rd of unitValues(unit, 'Service', 'RuntimeDirectory').flatMap((v) => v.split(/\s+/))) scratch.push({ target: `/run/${rd}`, owner: user });
  if (kind === 'nginx') scratch.push({ target: '/var/log/nginx' }, { target: '/var/lib/nginx' });
  if (kind === 'caddy') scratch.push({ target: '/var/log/caddy', owner: user }, { target: '/var/lib/caddy', owner: user });
  // EnvironmentFile= holds what deploy.sh writes from .env; the lab passes the same values.
  const dotenv = existsSync(path.join(bundle, '.env')) ? parseDotEnv(await fs.readFile(path.join(bundle, '.env'), 'utf8')) : {};
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: PASSWD_HOME[user] ?? '/', LANG: 'C.UTF-8', ...(unitValues(unit, 'Service', 'EnvironmentFile').length ? dotenv : {}) };
  const pre = unitValues(unit, 'Service', 'ExecStartPre').map(splitExec);
  const { argv } = splitExec(execStart);
  const { proc, scratch: dirs } = await startNamespaced(kind, { files, scratch, pre, argv, user, env, workDir });
  const url = `http://${LAB.lb}:${LAB.httpPort}`;
  await waitFor(`${kind} to answer /lb-health`, async () => {
    if (!proc.running) throw new Error(`${kind} exited: ${proc.err}${proc.out}`);
    const r = await request(`${url}/lb-health`, { timeoutMs: 1000 });
    return r.status === 200;
  }, 10_000, 50);
  const base = { kind, label: `${kind} (ha-gen)`, url, proc, scratch: dirs, stop: () => proc.stop(kind === 'nginx' ? 'SIGQUIT' : 'SIGTERM', 5000) };
  if (kind === 'haproxy') return { ...base, ejectedAt: (b, since, until) => haproxyEjectedAt(path.join(dirs.get('/run/haproxy')!, 'admin.sock'), 'app', b, since, until) };
  if (kind === 'caddy') {
    const adminSock = path.join(dirs.get('/run/caddy') ?? '', 'admin.sock');
    const logFile = path.join(dirs.get('/var/log/caddy')!, 'upstream.log');
    return { ...base, ejectedAt: (b, since, until) => caddyEjectedAt({ adminSock, logFile }, b, since, until) };
  }
  const accessLog = path.join(dirs.get('/var/log/nginx')!, 'access.log');
  return { ...base, ejectedAt: async () => null, deadBackendAttempts: (b, since) => nginxAttempts(accessLog, b, since) };
}

/** HAProxy's own view: polls `show stat` on the stats socket until the server is DOWN or MAINT. */
export async function haproxyEjectedAt(socket: string, backend: string, b: Backend, since: number, until: number): Promise<number | null> {
  const server = `app${LAB.backends.indexOf(b.host as (typeof LAB.backends)[number]) + 1}`;
  while (Date.now() < until) {
    const csv = await unixCommand(socket, 'show stat\n').catch(() => '');
    const header = csv.split('\n')[0]?.replace(/^# /, '').split(',') ?? [];
    const statusCol = header.indexOf('status');
    const addrCol = header.indexOf('addr');
    for (const line of csv.split('\n')) {
      const cols = line.split(',');
      if (cols[0] !== backend) continue;
      if (cols[1] !== server && cols[addrCol] !== b.address) continue;
      if (/^(DOWN|MAINT)/.test(cols[statusCol] ?? '')) return Math.max(Date.now(), since);
    }
    await sleep(10);
  }
  return null;
}

function unixCommand(socket: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(1000, () => s.destroy(new Error('timeout')));
    s.write(cmd);
  });
}

/**
 * Caddy's own view: the admin API's passive failure count for the upstream, and the active health
 * checker's "HTTP request failed" line in the upstream log, whichever comes first.
 */
export async function caddyEjectedAt(where: { adminSock?: string; adminUrl?: string; logFile?: string }, b: Backend, since: number, until: number): Promise<number | null> {
  while (Date.now() < until) {
    const now = Date.now();
    try {
      const r = where.adminSock ? await request('http://localhost/reverse_proxy/upstreams', { socketPath: where.adminSock, timeoutMs: 500, headers: { host: '' } }) : await request(`${where.adminUrl}/reverse_proxy/upstreams`, { timeoutMs: 500 });
      const ups = JSON.parse(r.body) as Array<{ address: string; fails: number }>;
      if (ups.some((u) => u.address === b.address && u.fails > 0)) return now;
    } catch {
      /* admin not reachable: rely on the log */
    }
    if (where.logFile) {
      const log = await fs.readFile(where.logFile, 'utf8').catch(() => '');
      for (const line of log.split('\n')) {
        if (!line.includes('health_checker') || !line.includes(b.address) || !line.includes('failed')) continue;
        const ts = (JSON.parse(line) as { ts: number }).ts * 1000;
        if (ts >= since) return ts;
      }
    }
    await sleep(10);
  }
  return null;
}

/** nginx has no checks: how many requests after `since` were still tried on the dead backend first. */
async function nginxAttempts(accessLog: string, b: Backend, since: number): Promise<number> {
  const log = await fs.readFile(accessLog, 'utf8').catch(() => '');
  let n = 0;
  for (const line of log.split('\n')) {
    const m = /\[([^\]]+)\].*upstream=([^ ]+(?:, [^ ]+)*) upstream_status/.exec(line);
    if (!m) continue;
    const t = Date.parse(m[1]!.replace(/^(\d+)\/(\w+)\/(\d+):(\d+:\d+:\d+) (.*)$/, '$2 $1 $3 $4 $5'));
    if (t + 1000 < since) continue;
    const addrs = m[2]!.split(/, /);
    if (addrs.length > 1 && addrs.slice(0, -1).includes(b.address)) n++;
  }
  return n;
}

// ---- load ------------------------------------------------------------------------------------------------

export interface WrkResult {
  requests: number;
  rps: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  latencyMaxMs: number;
  failed: number;
  raw: string;
}

const toMs = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? 1);

export function parseWrk(raw: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(raw)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(raw)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(raw)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const socketErrors = { connect: Number(se?.[1] ?? 0), read: Number(se?.[2] ?? 0), write: Number(se?.[3] ?? 0), timeout: Number(se?.[4] ?? 0) };
  const lat = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/.exec(raw);
  if (!Number.isFinite(requests) || !Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${raw}`);
  const failed = non2xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout;
  return { requests, rps, non2xx, socketErrors, latencyMaxMs: lat ? toMs(lat[1]!, lat[2]!) : NaN, failed, raw };
}

/** Bounded load: wrk with a fixed duration and connection count; a request slower than 2 s counts as failed. */
export async function wrk(url: string, opts: { durationS: number; connections?: number; threads?: number }): Promise<WrkResult> {
  const p = new Proc('wrk', ['wrk', `-t${opts.threads ?? 2}`, `-c${opts.connections ?? 32}`, `-d${opts.durationS}s`, '--timeout', '2s', url]);
  const res = await Promise.race([p.exited, sleep((opts.durationS + 15) * 1000).then(() => null)]);
  if (!res) {
    await p.stop('SIGKILL');
    throw new Error('wrk did not finish');
  }
  return parseWrk(p.out);
}

// ---- scenarios ------------------------------------------------------------------------------------------

/** How long after a backend comes back the config lets it wait for traffic (from the config itself). */
export function configuredRiseMs(kind: LbKind, config: string): number {
  const dur = (s: string) => {
    const m = /^([\d.]+)(ms|s|m)?$/.exec(s);
    return m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'] ?? 1000) : NaN;
  };
  if (kind === 'haproxy') {
    const ds = /default-server ([^\n]+)/.exec(config)?.[1] ?? '';
    const val = (k: string) => new RegExp(`\\b${k} (\\S+)`).exec(ds)?.[1];
    const inter = dur(val('downinter') ?? val('inter') ?? '2s');
    const rise = Number(val('rise') ?? 2);
    return inter * rise;
  }
  if (kind === 'caddy') return dur(/health_interval (\S+)/.exec(config)?.[1] ?? '30s');
  return dur(/fail_timeout=(\w+)/.exec(config)?.[1] ?? '10s');
}

export interface KillResult {
  wrk: WrkResult;
  killedAt: number;
  ejectMs: number | null;
  deadAttempts: number | null;
  revivedAt: number;
  recoveryMs: number | null;
}

/** kill -9 one backend under load, bring it back later; the figures of one run. */
export async function killScenario(lb: RunningLb, victim: Backend, opts = { durationS: 10, killAtMs: 3000, reviveAtMs: 6500 }): Promise<KillResult> {
  const start = Date.now();
  const load = wrk(`${lb.url}/`, { durationS: opts.durationS });
  await sleep(opts.killAtMs);
  const killedAt = await victim.kill9();
  const eject = lb.ejectedAt(victim, killedAt, start + opts.reviveAtMs - 200);
  await sleep(Math.max(0, start + opts.reviveAtMs - Date.now()));
  const ejectedAt = await eject;
  const deadAttempts = lb.deadBackendAttempts ? await lb.deadBackendAttempts(victim, killedAt) : null;
  await victim.start();
  const revivedAt = victim.listeningAt;
  const result = await load;
  const recoveryMs = victim.firstRequestAt ? victim.firstRequestAt - revivedAt : null;
  return { wrk: result, killedAt, ejectMs: ejectedAt === null ? null : ejectedAt - killedAt, deadAttempts, revivedAt, recoveryMs };
}

export interface DrainResult {
  wrk: WrkResult;
  drainedMs: number;
  recoveryMs: number | null;
}

/** SIGTERM one backend (it drains and exits) under load, then start it again. */
export async function drainScenario(lb: RunningLb, victim: Backend, opts = { durationS: 9, termAtMs: 1500, reviveAfterExitMs: 500 }): Promise<DrainResult> {
  const load = wrk(`${lb.url}/`, { durationS: opts.durationS });
  await sleep(opts.termAtMs);
  const { at, exitedAt } = await victim.terminate();
  await sleep(opts.reviveAfterExitMs);
  await victim.start();
  const result = await load;
  return { wrk: result, drainedMs: exitedAt - at, recoveryMs: victim.firstRequestAt ? victim.firstRequestAt - victim.listeningAt : null };
}

export async function throughput(url: string, durationS = 5): Promise<WrkResult> {
  return wrk(url, { durationS });
}

export function startBackends(drainMs = 2500): Backend[] {
  return LAB.backends.map((h) => new Backend(h, LAB.appPort, LAB.healthPath, drainMs));
}

export const fmt = (n: number | null | undefined, unit = '') => (n === null || n === undefined || Number.isNaN(n) ? 'n/a' : `${Math.round(n)}${unit}`);
export { Proc, sleep, waitFor } from './common.js';
