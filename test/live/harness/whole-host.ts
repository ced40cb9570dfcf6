/**
 * The whole-host failover lab (test/live/whole-host.test.ts, scripts/bench-failover.sh): the bundle
 * a user deploys (`ha-gen init --yes --tier multi-server --platform hosts --lb haproxy`, the example
 * inventory edited to lab addresses), every host of it a lab host (test/lab), its services started
 * from their own units with what the bundle's deploy.sh would write on that host, the app replaced by
 * a stand-in, a client sending steady HTTP load through the floating address, a writer on an app
 * host connecting with the app's DATABASE_URL, and a poller on each database host asking who
 * accepts writes. Host faults: power-off, partition, freeze. Everything is loopback-range.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { createLab, sleep, waitUntil, type HostProcess, type Lab } from '../../lab/lab.js';
import { BIN } from '../../helpers/cli.js';
import { parseUnit, splitExec, unitValue } from './common.js';
import { PATRONI_TLS } from '../../../src/targets/pki.js';
import { parseEnvironmentFile, startUnitOnHost } from './lab-units.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPTS = path.join(HERE, 'whole-host');
/** Where the host-side scripts (load, writer, poller, app stand-in) live on every lab host. */
const HOST_LIB = '/usr/local/lib/ha-gen-lab';
export const LAB_NET = '127.0.90';
export const FLOATING = `${LAB_NET}.4`;
export const CLIENT = { name: 'client', address: `${LAB_NET}.200` };
export const TABLE = 'whole_host_writes';
/** Where deploy.sh puts the bundle's CA for Patroni: its REST API is HTTPS with a certificate of that CA. */
export const PATRONI_CA = PATRONI_TLS.ca;

// ---- the bundle ------------------------------------------------------------------------------------------

function run(argv: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = execFile(argv[0]!, argv.slice(1), { cwd: o.cwd, env: o.env ?? process.env, timeout: o.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0, out: stdout, err: stderr });
    });
    c.stdin?.end(o.input ?? '');
  });
}

const cli = (args: string[], cwd: string) => {
  const env = { ...process.env };
  for (const k of ['VITEST', 'VITEST_WORKER_ID', 'VITEST_POOL_ID', 'FORCE_COLOR']) delete env[k];
  return run([process.execPath, BIN, ...args], { cwd, env, timeoutMs: 120_000 });
};

export interface PlanHost {
  name: string;
  address: string;
  roles: string[];
  services: Array<{ name: string; kind: string; ports: Array<{ port: number; bind: string; what?: string }> }>;
}

export interface Bundle {
  dir: string;
  /** ha-bundle/ */
  out: string;
  hosts: PlanHost[];
  /** deploy.sh --list */
  order: string[];
  healthPath: string;
  env: Record<string, string>;
  dbVersion: number;
  lb: 'haproxy' | 'nginx' | 'caddy';
}

/**
 * What a user does: `ha-gen init --yes --tier multi-server --platform hosts --lb haproxy`, then edits
 * ha-gen.yaml (lab addresses for every host and the floating address, database.version 15,
 * database.synchronous true, loadBalancer.floatingInterface eth0) and runs `ha-gen generate`.
 */
export async function userBundle(dir: string, lb: 'haproxy' | 'nginx' | 'caddy' = 'haproxy', edit?: (doc: ReturnType<typeof parseDocument>) => void): Promise<Bundle> {
  const init = await cli(['init', '--yes', '--tier', 'multi-server', '--platform', 'hosts', '--lb', lb], dir);
  if (init.code !== 0) throw new Error(`ha-gen init failed:\n${init.out}${init.err}`);
  const specFile = path.join(dir, 'ha-gen.yaml');
  const doc = parseDocument(await fs.readFile(specFile, 'utf8'));
  const hosts = doc.get('hosts') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
  hosts.items.forEach((h, i) => h.set('address', `${LAB_NET}.${10 + i}`));
  doc.setIn(['loadBalancer', 'floatingAddress'], FLOATING);
  doc.setIn(['loadBalancer', 'floatingInterface'], 'eth0');
  doc.setIn(['database', 'version'], 15);
  doc.setIn(['database', 'synchronous'], true);
  edit?.(doc);
  await fs.writeFile(specFile, doc.toString());
  const gen = await cli(['generate'], dir);
  if (gen.code !== 0) throw new Error(`ha-gen generate failed:\n${gen.out}${gen.err}`);
  const plan = await cli(['plan', '--json'], dir);
  if (plan.code !== 0) throw new Error(`ha-gen plan failed:\n${plan.out}${plan.err}`);
  const p = JSON.parse(plan.out) as { hosts: PlanHost[] };
  const out = path.join(dir, 'ha-bundle');
  const list = await run(['bash', path.join(out, 'deploy.sh'), '--list']);
  const spec = doc.toJS() as { app: { healthPath: string }; database: { version: number } };
  return {
    dir,
    out,
    hosts: p.hosts,
    order: list.out.split('\n').filter(Boolean),
    healthPath: spec.app.healthPath,
    env: parseEnvironmentFile(await fs.readFile(path.join(out, '.env'), 'utf8')),
    dbVersion: spec.database.version,
    lb,
  };
}

export interface Deployed {
  /** The tree deploy.sh copies onto the host's / (tar of hosts/HOST). */
  tree: string;
  /** Secret files deploy.sh writes (path on the host -> contents), mode 0600. */
  files: Map<string, string>;
  /** Owner and mode deploy.sh gives some of them (pki/ files); the others are root's, 0600. */
  modes: Map<string, { owner: string; mode: number }>;
  /** Units deploy.sh restarts, in its order. */
  units: string[];
  /** Other commands it runs on the host, before / after the units. */
  before: string[];
  after: string[];
}

/**
 * Runs the bundle's own deploy.sh for one host with `ssh` replaced by a recorder (whole-host/fake-ssh.sh):
 * what it copies, the EnvironmentFile contents it writes from .env, and the units it starts in order.
 */
export async function deployRecord(bundle: Bundle, host: string, spool: string): Promise<Deployed> {
  const bin = path.join(spool, 'bin');
  await fs.mkdir(bin, { recursive: true });
  await fs.copyFile(path.join(SCRIPTS, 'fake-ssh.sh'), path.join(bin, 'ssh'));
  await fs.chmod(path.join(bin, 'ssh'), 0o755);
  const r = await run(['bash', path.join(bundle.out, 'deploy.sh'), host], { env: { PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: 'C.UTF-8', HGLAB_SPOOL: spool, HOME: process.env.HOME ?? '/root' } });
  if (r.code !== 0) throw new Error(`deploy.sh ${host} (recorded) failed:\n${r.out}${r.err}`);
  const address = bundle.hosts.find((h) => h.name === host)!.address;
  const d = path.join(spool, address);
  const files = new Map<string, string>();
  const envFiles = existsSync(path.join(d, 'env-files')) ? readFileSync(path.join(d, 'env-files'), 'utf8').split('\n').filter(Boolean) : [];
  for (const f of envFiles) files.set(f, readFileSync(path.join(d, 'files', f), 'utf8'));
  const modes = new Map<string, { owner: string; mode: number }>();
  if (existsSync(path.join(d, 'file-modes'))) {
    for (const l of readFileSync(path.join(d, 'file-modes'), 'utf8').split('\n').filter(Boolean)) {
      const [p, owner, mode] = l.split(' ');
      modes.set(p!, { owner: owner!, mode: parseInt(mode!, 8) });
    }
  }
  const steps = existsSync(path.join(d, 'steps')) ? readFileSync(path.join(d, 'steps'), 'utf8').split('\n').filter(Boolean) : [];
  const units: string[] = [];
  const before: string[] = [];
  const after: string[] = [];
  for (const s of steps) {
    if (s.startsWith('unit ')) units.push(s.slice(5));
    else if (s.startsWith('cmd ')) (units.length ? after : before).push(s.slice(4));
  }
  return { tree: path.join(d, 'tree'), files, modes, units, before, after };
}

/** What deploy.sh puts on a host besides the tree: its secret files, with their owner and mode. */
export async function installDeployed(lab: Lab, name: string, d: Deployed): Promise<void> {
  await lab.install(name, d.tree);
  for (const [p, text] of d.files) {
    const m = d.modes.get(p);
    await lab.writeFile(name, p, text, { mode: m?.mode ?? 0o600, owner: m && m.owner !== 'root' ? m.owner : undefined });
  }
}

// ---- the lab ---------------------------------------------------------------------------------------------

export interface Sample {
  t: number;
  a: number;
  rec: boolean | null;
  pri: number | null;
}
export interface LoadRecord {
  s: number;
  e: number;
  ok: boolean;
  st?: number;
  err?: string;
}
export interface WriteRecord {
  id: number;
  s: number;
  e: number;
  ok: boolean;
  err?: string;
}

/** JSON lines of a lab process's log (its first line is the lab's own '#' header). */
export function jsonLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      /* a line cut by a power-off */
    }
  }
  return out;
}

export class WholeHostLab {
  lab!: Lab;
  readonly procs = new Map<string, Map<string, HostProcess>>();
  readonly deployed = new Map<string, Deployed>();
  /** What the lab does not run, said once per host and unit. */
  readonly notes = new Set<string>();
  private watchdogs: string[] = [];

  /**
   * `runAfter`: deploy.sh's commands after a host's units that the lab runs too (the streaming
   * primary's role SQL; otherwise noted as not run). `oneByOne`: hosts start in deploy.sh's order,
   * each once the previous one's units and commands are done, as deploy.sh runs them (a streaming
   * standby clones from a primary that has its replication role; etcd needs its members at once).
   * `prepare`: called for each host once its files are installed, before any service starts.
   */
  constructor(readonly bundle: Bundle, readonly work: string, readonly o: { runAfter?: RegExp; oneByOne?: boolean; prepare?: (lab: Lab, host: string) => Promise<void> } = {}) {}

  host(name: string): PlanHost {
    const h = this.bundle.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in the plan`);
    return h;
  }
  hostsWith(kind: string): PlanHost[] {
    return this.bundle.hosts.filter((h) => h.services.some((s) => s.kind === kind));
  }
  get lbHosts() {
    return this.hostsWith('vrrp');
  }
  get appHosts() {
    return this.hostsWith('app');
  }
  get dbHosts() {
    return this.hostsWith('db');
  }
  get etcdOnlyHosts() {
    return this.hostsWith('etcd').filter((h) => !h.services.some((s) => s.kind === 'db'));
  }
  get storageHosts() {
    return this.bundle.hosts.filter((h) => h.roles.includes('storage'));
  }

  async start(): Promise<void> {
    this.lab = await createLab({ hosts: [...this.bundle.hosts.map((h) => ({ name: h.name, address: h.address })), CLIENT], powerOn: false });
    // One host at a time: twelve boots at once on a busy 2-core machine outlast the lab's 10 s boot limit.
    for (const name of this.lab.hostNames) await this.lab.powerOn(name);
    // A lab host sees the machine's /dev: Patroni (watchdog mode automatic) must never arm this machine's watchdog.
    this.watchdogs = existsSync('/dev') ? readdirSync('/dev').filter((d) => /^watchdog\d*$/.test(d)).map((d) => `/dev/${d}`) : [];
    const spool = path.join(this.work, 'spool');
    for (const h of this.bundle.hosts) this.deployed.set(h.name, await deployRecord(this.bundle, h.name, spool));
    const scripts: Array<[string, string]> = [
      ['load.mjs', path.join(SCRIPTS, 'load.mjs')],
      ['writer.mjs', path.join(SCRIPTS, 'writer.mjs')],
      ['poller.mjs', path.join(SCRIPTS, 'poller.mjs')],
      ['app.mjs', path.join(HERE, 'lb-backend.mjs')],
      ['uploads.mjs', path.join(SCRIPTS, 'uploads.mjs')],
    ];
    const storage = new Set(this.storageHosts.map((h) => h.name));
    const shim = storage.size ? await compileGlusterShim(this.work) : null;
    for (const name of [...this.bundle.hosts.map((h) => h.name), CLIENT.name]) {
      for (const [n, src] of scripts) await this.lab.writeFile(name, `${HOST_LIB}/${n}`, await fs.readFile(src), { mode: 0o755 });
      if (shim && storage.has(name)) await this.lab.writeFile(name, GLUSTER_SHIM, await fs.readFile(shim), { mode: 0o755 });
      const d = this.deployed.get(name);
      if (!d) continue;
      await installDeployed(this.lab, name, d);
      await this.o.prepare?.(this.lab, name);
    }
    // As deploy.sh's order has it: the storage hosts first (glusterd on each, then the volume script
    // that deploy.sh runs after the last one's units), then every other host starts its own units in
    // order, all at once (etcd is ready only once a majority of its members run), the app hosts
    // mounting the volume the storage hosts serve.
    const first = this.bundle.order.filter((n) => storage.has(n));
    await Promise.all(first.map((name) => this.startServices(name)));
    for (const name of first) {
      for (const c of this.deployed.get(name)!.after.filter((x) => /gluster/.test(x))) {
        const r = await this.lab.exec(name, ['sh', '-c', c], { timeoutMs: 180_000 });
        if (r.code !== 0) throw new Error(`${name}: ${c} (deploy.sh's step after the units) failed:\n${r.stdout}${r.stderr}`);
      }
    }
    const rest = this.bundle.order.filter((n) => !storage.has(n));
    if (this.o.oneByOne) for (const name of rest) await this.startServices(name);
    else await Promise.all(rest.map((name) => this.startServices(name)));
  }

  /**
   * Starts a host's services as its systemd would at boot: deploy.sh's commands, then the units
   * deploy.sh enables, in its order (the firewall first: see bootOrder), each from its unit file,
   * the next once the previous is started (Type=notify: READY=1). Not run in the lab: the GlusterFS mount and glusterd (no GlusterFS here: the
   * app stand-in writes no files), backup timers, and the app's Docker container, replaced by a
   * stand-in listening where the unit publishes the app (-p ADDRESS:PORT:...).
   */
  async startServices(name: string): Promise<void> {
    const d = this.deployed.get(name)!;
    const procs = new Map<string, HostProcess>();
    this.procs.set(name, procs);
    for (const c of d.before) {
      const why = /\bdocker\b/.test(c) ? "the app's Docker container is replaced by a stand-in" : /\bsystemctl\b|\bsystemd-run\b/.test(c) ? 'no systemd in a lab host' : null;
      if (why) {
        this.notes.add(`${name}: not run in the lab (${why}): ${c}`);
        continue;
      }
      const r = await this.lab.exec(name, ['sh', '-c', c]);
      if (r.code !== 0) throw new Error(`${name}: ${c}: ${r.stderr}`);
    }
    const appUnit = this.host(name).services.find((s) => s.kind === 'app')?.name;
    for (const unit of await this.bootOrder(name, d.units)) {
      if (unit.endsWith('.mount')) {
        await this.mountUnit(name, unit);
        continue;
      }
      if (unit === 'glusterd') {
        await this.startGlusterd(name);
        continue;
      }
      if (unit.endsWith('.timer')) {
        this.notes.add(`${name}: ${unit} not started (backups are not part of this test)`);
        continue;
      }
      if (unit === appUnit) {
        procs.set(unit, await this.startAppStandIn(name, unit));
        continue;
      }
      const file = /\.[a-z]+$/.test(unit) ? unit : `${unit}.service`;
      if (!existsSync(this.lab.path(name, `/etc/systemd/system/${file}`))) {
        this.notes.add(`${name}: ${unit} not started: its unit is not in the bundle (a package's own unit)`);
        continue;
      }
      if (unit === 'patroni') await this.maskWatchdogs(name);
      const s = await startUnitOnHost(this.lab, name, unit);
      for (const k of s.skipped) this.notes.add(`${name}: ${unit}: skipped ExecStartPre (no systemd in a lab host): ${k}`);
      if (s.oneshot) continue;
      procs.set(unit, s.proc);
      // The next unit starts once this one is started as systemd sees it (Type=notify: READY=1),
      // as After= orders them on a booting host (Patroni after etcd).
      await s.ready;
      await sleep(200);
      if (!s.proc.running) throw new Error(`${name}: ${unit} exited at once: ${s.proc.log()}`);
    }
    for (const c of d.after) {
      if (/gluster/.test(c)) continue;
      if (!this.o.runAfter?.test(c)) {
        this.notes.add(`${name}: not run in the lab: ${c}`);
        continue;
      }
      const r = await this.lab.exec(name, ['sh', '-c', c], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`${name}: ${c} (deploy.sh's step after the units) failed:\n${r.stdout}${r.stderr}`);
    }
  }

  /**
   * glusterd as Debian's glusterd.service starts it (Type=forking: the command returns once the
   * daemon forked), with the lab's shim preloaded: GlusterFS counts every 127/8 address as this host
   * (gluster-local-addr.c), which every lab address is.
   */
  private async startGlusterd(name: string): Promise<void> {
    this.notes.add(`${name}: glusterd started as Debian's glusterd.service does (glusterd -p /var/run/glusterd.pid --log-level INFO), with ${GLUSTER_SHIM} preloaded: GlusterFS takes every 127/8 address for itself`);
    const r = await this.lab.exec(name, ['sh', '-c', `LD_PRELOAD=${GLUSTER_SHIM} exec /usr/sbin/glusterd -p /var/run/glusterd.pid --log-level INFO`], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${name}: glusterd did not start: ${r.stdout}${r.stderr}`);
    await waitUntil(`${name}: glusterd to answer`, async () => (await this.lab.exec(name, ['gluster', '--mode=script', 'pool', 'list'], { timeoutMs: 10_000 })).code === 0, 30_000, 250);
  }

  /** Where each app host mounts the uploads (the .mount unit's Where=). */
  readonly uploadsDir = new Map<string, string>();

  /** A .mount unit as systemd runs it: mount -t Type -o Options What Where (TimeoutSec= bounds it). */
  private async mountUnit(name: string, unit: string): Promise<void> {
    const u = parseUnit(await this.lab.readFile(name, `/etc/systemd/system/${unit}`));
    const [what, where, type, options] = ['What', 'Where', 'Type', 'Options'].map((k) => unitValue(u, 'Mount', k));
    if (!what || !where || !type) throw new Error(`${name}: ${unit}: What=, Where= and Type= are required`);
    const timeout = Number(unitValue(u, 'Mount', 'TimeoutSec') ?? 90);
    const r = await this.lab.exec(name, ['mount', '-t', type, ...(options ? ['-o', options] : []), what, where], { timeoutMs: timeout * 1000 });
    if (r.code !== 0) throw new Error(`${name}: ${unit} (mount -t ${type} -o ${options} ${what} ${where}) failed: ${r.stdout}${r.stderr}`);
    this.uploadsDir.set(name, where);
  }

  // ---- shared storage (GlusterFS) --------------------------------------------------------------------------

  /** A storage host that is on, to ask glusterd. */
  private storageAsker(): string {
    const h = this.storageHosts.find((x) => this.lab.host(x.name).state === 'on' && !this.lab.host(x.name).frozen);
    if (!h) throw new Error('no storage host is on');
    return h.name;
  }

  async glusterVolume(): Promise<string> {
    const r = await this.lab.exec(this.storageAsker(), ['gluster', '--mode=script', 'volume', 'list'], { timeoutMs: 10_000 });
    const v = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    if (r.code !== 0 || v.length !== 1) throw new Error(`gluster volume list: ${r.stdout}${r.stderr}`);
    return v[0]!;
  }

  /** Every brick connected and nothing left to heal (heal info: per brick "Status: Connected", "Number of entries: 0"). */
  async waitStorageHealthy(timeoutMs: number): Promise<void> {
    const volume = await this.glusterVolume();
    await waitUntil('every brick connected and nothing to heal', async () => {
      const r = await this.lab.exec(this.storageAsker(), ['gluster', '--mode=script', 'volume', 'heal', volume, 'info'], { timeoutMs: 20_000 });
      const connected = (r.stdout.match(/^Status: Connected$/gm) ?? []).length;
      const entries = [...r.stdout.matchAll(/^Number of entries: (\d+)$/gm)].map((m) => Number(m[1]));
      return r.code === 0 && connected === this.storageHosts.length && entries.length === connected && entries.every((n) => n === 0);
    }, timeoutMs, 1000);
  }

  async pingTimeout(): Promise<number> {
    const volume = await this.glusterVolume();
    const r = await this.lab.exec(this.storageAsker(), ['gluster', '--mode=script', 'volume', 'get', volume, 'network.ping-timeout'], { timeoutMs: 10_000 });
    const m = /^network\.ping-timeout\s+(\d+)/m.exec(r.stdout);
    if (!m) throw new Error(`gluster volume get ${volume} network.ping-timeout: ${r.stdout}${r.stderr}`);
    return Number(m[1]);
  }

  startUploads(host: string, before: string, sha: string, tag: string, durationMs: number): HostProcess {
    return this.lab.spawn(host, [process.execPath, `${HOST_LIB}/uploads.mjs`, this.uploadsDir.get(host)!, before, sha, tag, '200', String(durationMs)], { name: 'uploads' });
  }

  /**
   * deploy.sh's unit order as a booting host runs it: units ordered before the network is up
   * (After= or Before= network-pre.target and not after network-online.target: the firewall) first,
   * the rest in deploy.sh's order (which follows their After= lines).
   */
  private async bootOrder(name: string, units: string[]): Promise<string[]> {
    const early = new Set<string>();
    for (const unit of units) {
      const file = /\.[a-z]+$/.test(unit) ? unit : `${unit}.service`;
      const p = this.lab.path(name, `/etc/systemd/system/${file}`);
      if (!existsSync(p)) continue;
      const u = parseUnit(readFileSync(p, 'utf8'));
      const order = [...(u.get('Unit') ?? [])].filter(([k]) => k === 'After' || k === 'Before').map(([, v]) => v).join(' ');
      if (/\bnetwork-pre\.target\b/.test(order) && !/\bnetwork(-online)?\.target\b/.test(order.replace(/network-pre\.target/g, ''))) early.add(unit);
    }
    return [...units.filter((u) => early.has(u)), ...units.filter((u) => !early.has(u))];
  }

  private async maskWatchdogs(name: string): Promise<void> {
    for (const w of this.watchdogs) {
      await this.lab.writeFile(name, '/run/hglab-no-watchdog', '');
      const r = await this.lab.exec(name, ['mount', '--bind', '/run/hglab-no-watchdog', w]);
      if (r.code !== 0) throw new Error(`${name}: could not hide ${w} from Patroni: ${r.stderr}`);
    }
  }

  /** The app unit's published address and port (docker run -p ADDRESS:PORT:CPORT), served by the stand-in. */
  async startAppStandIn(name: string, unit: string): Promise<HostProcess> {
    const u = parseUnit(await this.lab.readFile(name, `/etc/systemd/system/${unit}.service`));
    const argv = splitExec(unitValue(u, 'Service', 'ExecStart')!).argv;
    const pi = argv.indexOf('-p');
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+):\d+$/.exec(argv[pi + 1] ?? '');
    if (!m) throw new Error(`${name}: ${unit}: no -p ADDRESS:PORT:PORT in ExecStart`);
    this.notes.add(`${name}: ${unit} (Docker) replaced by a stand-in on ${m[1]}:${m[2]} (${this.bundle.healthPath} answers 200)`);
    const p = this.lab.spawn(name, [process.execPath, `${HOST_LIB}/app.mjs`, m[1]!, m[2]!, this.bundle.healthPath, '2500'], { user: 'nobody', name: 'app-stand-in' });
    await waitUntil(`the app stand-in on ${name}`, () => p.log().includes('"listening"') || (!p.running && Promise.reject(new Error(p.log()))), 10_000, 20);
    return p;
  }

  /** The app's environment on an app host: its unit's EnvironmentFile, as deploy.sh wrote it. */
  async appEnv(name: string): Promise<Record<string, string>> {
    const unit = this.host(name).services.find((s) => s.kind === 'app')!.name;
    const u = parseUnit(await this.lab.readFile(name, `/etc/systemd/system/${unit}.service`));
    const file = unitValue(u, 'Service', 'EnvironmentFile')!.replace(/^-/, '');
    return parseEnvironmentFile(await this.lab.readFile(name, file));
  }

  // ---- cluster state, asked from the client host -----------------------------------------------------------

  /** Patroni's /cluster, asked by each database host of its own member (the flows allow that whatever the firewall). */
  async cluster(): Promise<Array<{ name: string; role: string; state: string; host: string }> | null> {
    for (const h of this.dbHosts) {
      if (this.lab.host(h.name).state !== 'on' || this.lab.host(h.name).frozen) continue;
      const r = await this.lab.http(h.name, `https://${h.address}:8008/cluster`, { timeoutMs: 1000, ca: PATRONI_CA });
      if (!r.ok || r.status !== 200) continue;
      try {
        return (JSON.parse(r.body!) as { members: Array<{ name: string; role: string; state: string; host: string }> }).members;
      } catch {
        /* next */
      }
    }
    return null;
  }

  /** Members answering 200 on Patroni's /primary (each asked on its own host). */
  async primaries(): Promise<string[]> {
    const out: string[] = [];
    for (const h of this.dbHosts) {
      if (this.lab.host(h.name).state !== 'on' || this.lab.host(h.name).frozen) continue;
      if ((await this.lab.http(h.name, `https://${h.address}:8008/primary`, { timeoutMs: 1000, ca: PATRONI_CA })).status === 200) out.push(h.name);
    }
    return out;
  }

  async leader(): Promise<string | null> {
    return (await this.cluster())?.find((m) => m.role === 'leader')?.name ?? null;
  }

  /** Which lb host holds the floating address now (its eth0 carries it). */
  async vipHolder(): Promise<string | null> {
    for (const h of this.lbHosts) {
      if (this.lab.host(h.name).state !== 'on') continue;
      const r = await this.lab.exec(h.name, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
      if (r.stdout.includes(` ${FLOATING}/`)) return h.name;
    }
    return null;
  }

  /**
   * Healthy: one Patroni leader, every other member streaming, a synchronous standby named, both
   * standbys streaming from the leader; every app host's endpoint takes writes; the floating address
   * answers; every lb host's HAProxy has every app instance UP.
   */
  async waitHealthy(timeoutMs: number, writerHost: string, dbUrl: string): Promise<string> {
    const members = this.dbHosts.length;
    const leader = await waitUntil('one Patroni leader, every member streaming, a synchronous standby', async () => {
      const m = await this.cluster();
      if (!m || m.length !== members) return null;
      const leaders = m.filter((x) => x.role === 'leader');
      if (leaders.length !== 1 || leaders[0]!.state !== 'running') return null;
      // Patroni 3.0.2 says 'running' for a replica, later versions 'streaming'; pg_stat_replication below decides.
      if (!m.filter((x) => x.role !== 'leader').every((x) => x.state === 'streaming' || x.state === 'running')) return null;
      if (!m.some((x) => x.role === 'sync_standby')) return null;
      const p = await this.primaries();
      return p.length === 1 && p[0] === leaders[0]!.name ? leaders[0]!.name : null;
    }, timeoutMs, 500);
    await waitUntil('the leader to stream to every standby', async () => {
      const r = await this.psqlLocal(leader, 'postgres', "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'");
      return r.ok && Number(r.out) === members - 1;
    }, timeoutMs, 500);
    await waitUntil(`writes through ${writerHost}'s endpoint`, async () => (await this.lab.exec(writerHost, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', dbUrl, '-c', 'SELECT 1'], { user: 'nobody', env: { PGCONNECT_TIMEOUT: '2' }, timeoutMs: 5000 })).code === 0, timeoutMs, 500);
    await waitUntil('the floating address to answer', async () => (await this.lab.http(CLIENT.name, `http://${FLOATING}/`, { timeoutMs: 1000 })).status === 200, timeoutMs, 250);
    if (this.bundle.lb !== 'haproxy') {
      // nginx has no active checks and Caddy no stats page here: 20 requests in a row through the
      // floating address, after Caddy's checks (every 1 s) had time to see a returning instance.
      await sleep(3000);
      await waitUntil('20 requests in a row through the floating address', async () => {
        for (let i = 0; i < 20; i++) if ((await this.lab.http(CLIENT.name, `http://${FLOATING}/`, { timeoutMs: 1000 })).status !== 200) return false;
        return true;
      }, timeoutMs, 500);
      return leader;
    }
    const auth = `Basic ${Buffer.from(`admin:${this.bundle.env.HAPROXY_STATS_PASSWORD}`).toString('base64')}`;
    await waitUntil('every app instance UP on every lb host', async () => {
      for (const h of this.lbHosts) {
        // The stats page where plan says it listens, asked on the lb host itself.
        const stats = h.services.flatMap((x) => x.ports).find((p) => /stats/i.test(p.what ?? ''));
        if (!stats) throw new Error(`${h.name}: plan lists no HAProxy stats port`);
        const bind = stats.bind === '0.0.0.0' ? '127.0.0.1' : stats.bind;
        const r = await this.lab.http(h.name, `http://${bind}:${stats.port}/;csv`, { headers: { authorization: auth }, timeoutMs: 1000 });
        if (!r.ok || r.status !== 200) return false;
        const rows = r.body!.split('\n').filter((l) => l.startsWith('app,') && !l.startsWith('app,BACKEND'));
        if (rows.length !== this.appHosts.length || !rows.every((l) => l.split(',')[17] === 'UP')) return false;
      }
      return true;
    }, timeoutMs, 500);
    return leader;
  }

  /** psql as postgres over the host's own socket (peer authentication), inside the host. */
  async psqlLocal(host: string, db: string, sql: string, timeoutMs = 5000): Promise<{ ok: boolean; out: string }> {
    const r = await this.lab.exec(host, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/var/run/postgresql', '-d', db, '-c', sql], { user: 'postgres', timeoutMs });
    return { ok: r.code === 0, out: r.stdout.trim() };
  }

  // ---- load, writer, pollers -------------------------------------------------------------------------------

  startLoad(durationMs: number, timeoutMs = 500): HostProcess {
    return this.lab.spawn(CLIENT.name, [process.execPath, `${HOST_LIB}/load.mjs`, `http://${FLOATING}/`, '20', String(timeoutMs), String(durationMs)], { user: 'nobody', name: 'load' });
  }

  startWriter(host: string, dbUrl: string, firstId: number, durationMs: number): HostProcess {
    return this.lab.spawn(host, [process.execPath, `${HOST_LIB}/writer.mjs`, TABLE, String(firstId), '100', '3000', String(durationMs)], { user: 'nobody', env: { DATABASE_URL: dbUrl }, name: 'writer' });
  }

  startPoller(host: string): HostProcess {
    const h = this.host(host);
    const port = h.services.find((s) => s.kind === 'db')!.ports.find((p) => p.port !== 8008)!.port;
    return this.lab.spawn(host, [process.execPath, `${HOST_LIB}/poller.mjs`, `https://${h.address}:8008`, '/var/run/postgresql', String(port), '200', PATRONI_CA], { user: 'postgres', name: 'poller' });
  }

  // ---- faults and restore ----------------------------------------------------------------------------------

  async powerOff(name: string): Promise<void> {
    await this.lab.powerOff(name);
    this.procs.delete(name);
  }

  /** Power on and start the host's services again from the same unit files. */
  async powerOnAndStart(name: string): Promise<void> {
    await this.lab.powerOn(name);
    await this.startServices(name);
  }

  async close(): Promise<void> {
    await this.lab?.close();
  }
}

/** Where the lab's GlusterFS shim lives on a storage host. */
const GLUSTER_SHIM = `${HOST_LIB}/gluster-local-addr.so`;

/** Builds the lab's GlusterFS shim (gluster-local-addr.c) with this machine's C compiler. */
async function compileGlusterShim(work: string): Promise<string> {
  const out = path.join(work, 'gluster-local-addr.so');
  const r = await run(['gcc', '-shared', '-fPIC', '-O2', '-Wall', '-o', out, path.join(SCRIPTS, 'gluster-local-addr.c')]);
  if (r.code !== 0) throw new Error(`gcc gluster-local-addr.c: ${r.out}${r.err}`);
  return out;
}

// ---- figures -----------------------------------------------------------------------------------------------

export interface LoadFigures {
  total: number;
  failed: number;
  /** Seconds from the fault to the first and last failed request's start (null: none failed). */
  windowFrom: number | null;
  windowTo: number | null;
  /** Seconds from the fault until every request succeeds again (the first success after the last failure); 0 without failures. */
  recoverS: number;
  /** Failed requests after the first success that followed the first failure (flapping). */
  failedAfterRecovery: number;
  /** Answered (200), but later than 0.5 s (a client with a 0.5 s timeout would have failed them). */
  slowOk: number;
  /** The slowest answered request, seconds. */
  slowestS: number;
  /**
   * Failed requests the client had sent before the fault: in flight when the host went, so lost
   * with it (a client retries those; no proxy setting completes a request whose server vanished
   * mid-answer within a 0.5 s client timeout).
   */
  inFlightAtFault: number;
  errors: Record<string, number>;
}

export function loadFigures(recs: LoadRecord[], faultAt: number): LoadFigures {
  const sorted = [...recs].sort((a, b) => a.s - b.s);
  const failed = sorted.filter((r) => !r.ok);
  const errors: Record<string, number> = {};
  for (const f of failed) errors[f.err ?? `status ${f.st}`] = (errors[f.err ?? `status ${f.st}`] ?? 0) + 1;
  const okRecs = sorted.filter((r) => r.ok);
  const slowOk = okRecs.filter((r) => r.e - r.s > 500).length;
  const slowestS = okRecs.reduce((a, r) => Math.max(a, (r.e - r.s) / 1000), 0);
  if (!failed.length) return { total: sorted.length, failed: 0, windowFrom: null, windowTo: null, recoverS: 0, failedAfterRecovery: 0, inFlightAtFault: 0, slowOk, slowestS, errors };
  const first = failed[0]!;
  const last = failed.at(-1)!;
  const backAt = sorted.find((r) => r.ok && r.s > last.s);
  const firstOkAfterFirstFail = sorted.find((r) => r.ok && r.s > first.s);
  const failedAfterRecovery = firstOkAfterFirstFail ? failed.filter((r) => r.s > firstOkAfterFirstFail.s).length : 0;
  return {
    total: sorted.length,
    failed: failed.length,
    windowFrom: (first.s - faultAt) / 1000,
    windowTo: (last.s - faultAt) / 1000,
    recoverS: backAt ? (backAt.s - faultAt) / 1000 : Infinity,
    failedAfterRecovery,
    inFlightAtFault: failed.filter((r) => r.s < faultAt).length,
    slowOk,
    slowestS,
    errors,
  };
}

/**
 * Seconds from the fault until writes are acknowledged again: the end of the first acknowledged
 * insert that started after the last bad one (failed, or slower than 1 s: a stall the app would
 * see); 0 when no insert after the fault was bad.
 */
export function writesBack(recs: WriteRecord[], faultAt: number): number {
  const after = recs.filter((r) => r.e >= faultAt).sort((a, b) => a.s - b.s);
  const bad = after.filter((r) => !r.ok || r.e - r.s > 1000);
  if (!bad.length) return 0;
  const last = bad.at(-1)!;
  const ok = after.find((r) => r.ok && r.s > last.s && r.e - r.s <= 1000);
  return ok ? (ok.e - faultAt) / 1000 : Infinity;
}

export interface Overlap {
  a: string;
  b: string;
  from: number;
  to: number;
}

/**
 * Instants at which two members both reported themselves primary and writable: not in recovery
 * (pg_is_in_recovery() false) and holding the leader key (Patroni's /primary 200). A sample's state
 * holds from its start to the next sample's start, at most 1.5 s. Also, for the report, instants at
 * which two were merely out of recovery (a demoted primary that has not stopped yet).
 */
export function writableOverlaps(samples: Map<string, Sample[]>, pred: (s: Sample) => boolean): Overlap[] {
  const intervals = new Map<string, Array<[number, number]>>();
  for (const [m, ss] of samples) {
    const sorted = [...ss].sort((x, y) => x.t - y.t);
    const iv: Array<[number, number]> = [];
    sorted.forEach((s, i) => {
      if (!pred(s)) return;
      const next = sorted[i + 1]?.t ?? s.a;
      iv.push([s.t, Math.min(Math.max(next, s.a), s.t + 1500)]);
    });
    intervals.set(m, iv);
  }
  const out: Overlap[] = [];
  const names = [...intervals.keys()];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      for (const [a0, a1] of intervals.get(names[i]!)!) {
        for (const [b0, b1] of intervals.get(names[j]!)!) {
          const from = Math.max(a0, b0);
          const to = Math.min(a1, b1);
          if (to > from) out.push({ a: names[i]!, b: names[j]!, from, to });
        }
      }
    }
  }
  return out;
}

export const writable = (s: Sample) => s.rec === false && s.pri === 200;
export const outOfRecovery = (s: Sample) => s.rec === false;

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

/** One file operation of uploads.mjs on an app host. */
export interface UploadRecord {
  op: 'read' | 'write';
  s: number;
  e: number;
  ok: boolean;
  err?: string;
  file?: string;
}

export interface StorageFigures {
  /** File operations on every app host during the window, and how many failed (an error, not slowness). */
  ops: number;
  failedOps: number;
  /** The longest single operation that was running at or after the fault (a stall), seconds. */
  longestStallS: number;
  /** Seconds from the fault until every later operation on every app host took at most 1 s (0: none slower). */
  backS: number;
  /** App hosts that read the upload written before the fault intact after it (while the storage host was off). */
  beforeReadableOn: number;
  /** Uploads written after the fault (one per app host) read back intact on every app host while the storage host was off. */
  afterReadableOn: number;
  appHosts: number;
  /** The volume's network.ping-timeout as gluster volume get reports it (the bundle's volume script sets it). */
  pingTimeoutS: number;
  /** Seconds from the storage host's power-on until every brick was connected and nothing was left to heal. */
  healS: number;
}

export function storageFigures(recs: Map<string, UploadRecord[]>, faultAt: number): Pick<StorageFigures, 'ops' | 'failedOps' | 'longestStallS' | 'backS'> {
  let ops = 0;
  let failedOps = 0;
  let longest = 0;
  let back = 0;
  for (const rs of recs.values()) {
    const sorted = [...rs].sort((a, b) => a.s - b.s);
    ops += sorted.length;
    failedOps += sorted.filter((r) => !r.ok).length;
    const after = sorted.filter((r) => r.e >= faultAt);
    for (const r of after) longest = Math.max(longest, (r.e - r.s) / 1000);
    const bad = after.filter((r) => !r.ok || r.e - r.s > 1000);
    if (!bad.length) continue;
    const last = bad.at(-1)!;
    const ok = after.find((r) => r.ok && r.s > last.s && r.e - r.s <= 1000);
    back = Math.max(back, ok ? (ok.e - faultAt) / 1000 : Infinity);
  }
  return { ops, failedOps, longestStallS: longest, backS: back };
}

// ---- results ------------------------------------------------------------------------------------------------

export type Kind = 'lb' | 'app' | 'leader' | 'other' | 'partition' | 'freeze';
export interface Result {
  /** The scenario in words that do not name a host (for the min/median/max table). */
  what: string;
  scenario: Kind;
  label: string;
  host: string;
  load: LoadFigures;
  writesBackS: number;
  acked: number;
  lost: number;
  /** Acknowledged rows found on the demoted (partitioned) member but not on the new leader. */
  ackedOnlyOnDemoted: number | null;
  twoWritable: number;
  twoOutOfRecoveryS: number;
  leaderBefore: string;
  leaderAfter: string;
  /** App host power-off: slow requests sent just before it (some in flight on the host), and how each ended. */
  slowRequests?: Array<{ method: string; status: number | null; ms: number; by: string | null; error: string | null }>;
  /** The load client's timeout per request, seconds. */
  clientTimeoutS: number;
  /** The load balancer of the bundle. */
  lb: string;
  /** Power-off of a storage host: the upload checks. */
  storage?: StorageFigures;
}

/** min / median / max of each column over the repeats of each scenario (also scripts/bench-failover.sh). */
export function summary(rs: Result[]): string {
  const stat = (xs: number[], digits = 1) => {
    const f = xs.filter((x) => Number.isFinite(x));
    if (!f.length) return xs.length ? 'never' : '-';
    const v = (x: number) => x.toFixed(digits);
    return `${v(Math.min(...f))} / ${v(median(f))} / ${v(Math.max(...f))}${f.length < xs.length ? ` (${xs.length - f.length} never)` : ''}`;
  };
  const head = ['scenario', 'runs', 'failed requests', 'slowest answer (s)', 'last failure at (s)', '100 % again at (s)', 'writes back at (s)', 'acked writes lost', 'two writable primaries'];
  const rows = [head];
  for (const kind of [...new Set(rs.map((r) => r.scenario))]) {
    const k = rs.filter((r) => r.scenario === kind);
    rows.push([
      k[0]!.what,
      String(k.length),
      `${stat(k.map((r) => r.load.failed), 0)}${k.some((r) => r.load.inFlightAtFault) ? ` (in flight at the fault: ${k.reduce((a, r) => a + r.load.inFlightAtFault, 0)} in ${k.filter((r) => r.load.inFlightAtFault).length} run(s))` : ''}${k[0]!.clientTimeoutS > 0.5 ? ` (client timeout ${k[0]!.clientTimeoutS} s; answered after 0.5 s: ${k.reduce((a, r) => a + r.load.slowOk, 0)})` : ''}`,
      stat(k.map((r) => r.load.slowestS), 2),
      stat(k.filter((r) => r.load.windowTo !== null).map((r) => r.load.windowTo!)),
      stat(k.map((r) => r.load.recoverS)),
      stat(k.map((r) => r.writesBackS)),
      `${k.reduce((a, r) => a + r.lost, 0)} of ${k.reduce((a, r) => a + r.acked, 0)}`,
      k.some((r) => r.twoWritable) ? `YES in ${k.filter((r) => r.twoWritable).length}` : 'never',
    ]);
  }
  const table = (rs: string[][]) => `| ${rs.map((r) => r.join(' | ')).join(' |\n| ').replace(/\n/, `\n|${rs[0]!.map(() => '---').join('|')}|\n`)} |`;
  const st = rs.filter((r) => r.storage);
  const sl = rs.filter((r) => r.slowRequests);
  const slowNote = sl.length
    ? `\n\nRequests in flight on the app host at its power-off (1.5 s requests sent 0.3 s before it; ${sl.length} run(s)): ${['GET', 'POST'].map((m) => {
        const xs = sl.flatMap((r) => r.slowRequests!.filter((x) => x.method === m));
        const ok = xs.filter((x) => x.status === 200);
        return `${m} ${ok.length} of ${xs.length} answered 200 (seconds: ${stat(ok.map((x) => x.ms / 1000))})`;
      }).join('; ')}`
    : '';
  if (!st.length) return `${table(rows)}${slowNote}`;
  const f = st.map((r) => r.storage!);
  const storageRows = [
    ['scenario', 'runs', `longest file-operation stall (s; network.ping-timeout ${[...new Set(f.map((x) => x.pingTimeoutS))].join('/')} s)`, 'uploads back (every op <= 1 s) at (s)', 'failed file operations', 'upload from before read on every app host', 'new upload read on every app host', 'heal done after power-on (s)'],
    [
      st[0]!.what,
      String(st.length),
      stat(f.map((x) => x.longestStallS)),
      stat(f.map((x) => x.backS)),
      `${f.reduce((a, x) => a + x.failedOps, 0)} of ${f.reduce((a, x) => a + x.ops, 0)}`,
      `${f.filter((x) => x.beforeReadableOn === x.appHosts).length} of ${f.length} runs`,
      `${f.filter((x) => x.afterReadableOn === x.appHosts).length} of ${f.length} runs`,
      stat(f.map((x) => x.healS)),
    ],
  ];
  return `${table(rows)}${slowNote}\n\nUploads (GlusterFS replica 3, mounted by the bundle's .mount unit on every app host; a read of the upload written before the fault and a new upload written every 200 ms on each app host):\n${table(storageRows)}`;
}
