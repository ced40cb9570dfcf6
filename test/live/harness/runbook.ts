/**
 * The RUNBOOK test's side of the whole-host lab (test/live/runbook.test.ts): the command lines of the
 * generated RUNBOOK.md read from the file (never copied by hand), each classified as run in the lab
 * or skipped with its reason, and a relay that makes `ssh`, `systemctl` and `docker` work for them
 * on lab hosts: the operator's machine is the lab's client host, `ssh root@ADDRESS CMD` runs CMD on
 * the lab host owning ADDRESS, `systemctl stop|start|restart|reload|status UNIT` acts on the unit
 * the lab started from its unit file (no systemd in a lab host), `docker kill` on the app's stand-in.
 */
import { createServer, type Server } from 'node:net';
import * as fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLIENT, type WholeHostLab } from './whole-host.js';
import { parseUnit, splitExec, unitValue } from './common.js';
import { expandArgv, startUnitOnHost, unitEnvironment } from './lab-units.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHIMS = path.join(HERE, 'runbook');
/** Where the relay and systemd-run stand-ins live on every lab host; first on PATH for runbook commands. */
export const SHIM_DIR = '/usr/local/lib/ha-gen-lab/bin';
export const LAB_PATH = `${SHIM_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface RunbookLine {
  /** The '## N. ...' section and the bold label above the block, if any. */
  section: string;
  label: string;
  /** The line as the RUNBOOK writes it (a trailing '# ...' comment is bash's and kept). */
  line: string;
}

/** Every command line of every ```bash block of RUNBOOK.md, with where it stands. */
export function runbookLines(md: string): RunbookLine[] {
  const out: RunbookLine[] = [];
  let section = '';
  let label = '';
  let inBlock = false;
  for (const raw of md.split('\n')) {
    if (inBlock) {
      if (raw.startsWith('```')) {
        inBlock = false;
        continue;
      }
      const line = raw.trim();
      if (line && !line.startsWith('#')) out.push({ section, label, line });
      continue;
    }
    if (raw.startsWith('```bash')) inBlock = true;
    else if (raw.startsWith('## ')) (section = raw.slice(3).trim()), (label = '');
    else if (/^\*\*.+\*\*/.test(raw)) label = /^\*\*(.+?)\*\*/.exec(raw)![1]!;
  }
  return out;
}

export type Plan = { run: true; why?: string } | { run: false; why: string };

/** Whether the lab can run a RUNBOOK line, and why not. The test decides the order and the checks. */
export function classify(l: RunbookLine): Plan {
  const s = l.line;
  if (/\bjournalctl\b/.test(s)) return { run: false, why: 'no journal in a lab host (each unit logs to the lab log folder)' };
  if (/^watch\b/.test(s)) return { run: false, why: 'runs until interrupted (smoke.sh is run once instead)' };
  if (/^\.\/deploy\.sh\b/.test(s)) return { run: false, why: 'deploy.sh installs packages over real ssh; the lab runs its recorded steps (whole-host harness), not the script on a live host' };
  if (/^(k6|\.\/loadtest\/)/.test(s)) return { run: false, why: 'a load test, not a recovery step (bounded load on a shared machine)' };
  if (/^chaos\/fill-disk\.sh\b/.test(s)) return { run: false, why: "fills the disk: a lab host's /var is an overlay on this machine's own disk" };
  if (/^chaos\/partition-app\.sh\b/.test(s)) return { run: false, why: "the lab's app is a stand-in, not a Docker-published port: dropping INPUT would cut it where the real container's DNAT'd port is not (issue 15 item 8), so a PASS here proves nothing" };
  if (/^chaos\/host-fault\.sh\b/.test(s) && !/--dry-run/.test(s)) return { run: false, why: 'whole-host faults (power-off, partition, freeze) are test/live/whole-host.test.ts, with the lab doing the fault' };
  if (/^ping\b/.test(s) && !['/usr/bin/ping', '/bin/ping'].some((p) => existsSync(p))) return { run: false, why: 'ping is not installed on this machine' };
  if (/^amtool\b/.test(s)) return { run: false, why: 'silences an alert (no Alertmanager run here)' };
  return { run: true };
}

/** The address a line ssh's to, if any. */
export const sshAddress = (line: string) => /^ssh\s+(?:-\S+\s+)*\S*@(\d+\.\d+\.\d+\.\d+)\s/.exec(line)?.[1] ?? null;

interface Request {
  tool: string;
  address?: string;
  cmd?: string;
  args?: string[];
}
interface Reply {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The relay: one UNIX socket per lab host (its /run/hglab-relay.sock), served by the test. Requests
 * come from the stand-ins (harness/runbook/relay.mjs) on that host.
 */
export class Relay {
  private servers: Server[] = [];
  /** Every relayed request, in order, for the report. */
  readonly log: string[] = [];
  /** Every unit stop: with which signal and how long it took. */
  readonly stops: Array<{ host: string; unit: string; signal: string; seconds: number }> = [];

  constructor(readonly wh: WholeHostLab) {}

  /** Installs the stand-ins on every host and listens on each host's socket. */
  async start(): Promise<void> {
    const lab = this.wh.lab;
    const relay = await fs.readFile(path.join(SHIMS, 'relay.mjs'));
    const run = await fs.readFile(path.join(SHIMS, 'systemd-run'));
    for (const name of lab.hostNames) {
      for (const tool of ['ssh', 'systemctl', 'docker']) await lab.writeFile(name, `${SHIM_DIR}/${tool}`, relay, { mode: 0o755 });
      await lab.writeFile(name, `${SHIM_DIR}/systemd-run`, run, { mode: 0o755 });
      await this.listen(name);
    }
  }

  /** (Re-)listens on a host's socket: after a power cycle its /run is empty. */
  async listen(name: string): Promise<void> {
    const sock = this.wh.lab.path(name, '/run/hglab-relay.sock');
    if (existsSync(sock)) await fs.rm(sock);
    const server = createServer((c) => {
      let buf = '';
      c.on('data', (d) => {
        buf += d;
        if (!buf.includes('\n')) return;
        const req = JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Request;
        this.handle(name, req)
          .catch((e: unknown): Reply => ({ code: 1, stdout: '', stderr: `lab relay: ${String(e)}\n` }))
          .then((r) => c.end(`${JSON.stringify(r)}\n`));
      });
      c.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => server.listen(sock, resolve).once('error', reject));
    this.servers.push(server);
  }

  private async handle(from: string, req: Request): Promise<Reply> {
    if (req.tool === 'ssh') {
      const h = this.wh.bundle.hosts.find((x) => x.address === req.address) ?? (req.address === CLIENT.address ? { name: CLIENT.name } : undefined);
      this.log.push(`${from}: ssh ${req.address} ${req.cmd}`);
      if (!h) return { code: 255, stdout: '', stderr: `ssh: connect to host ${req.address} port 22: No route to host\n` };
      const st = this.wh.lab.host(h.name);
      if (st.state !== 'on' || st.frozen) return { code: 255, stdout: '', stderr: `ssh: connect to host ${req.address} port 22: Connection timed out\n` };
      const r = await this.wh.lab.exec(h.name, ['bash', '-c', req.cmd ?? ''], { env: { PATH: LAB_PATH }, timeoutMs: 300_000 });
      return { code: r.code ?? 255, stdout: r.stdout, stderr: r.stderr };
    }
    this.log.push(`${from}: ${req.tool} ${(req.args ?? []).join(' ')}`);
    if (req.tool === 'systemctl') return this.systemctl(from, req.args ?? []);
    if (req.tool === 'docker') return this.docker(from, req.args ?? []);
    return { code: 1, stdout: '', stderr: `lab relay: ${req.tool} is not emulated\n` };
  }

  private unitName(host: string, unit: string): string {
    return unit.replace(/\.service$/, '');
  }

  private appUnit(host: string): string | undefined {
    return this.wh.host(host).services.find((s) => s.kind === 'app')?.name;
  }

  /** systemctl as far as the RUNBOOK and the chaos scripts use it, on the units the lab started. */
  async systemctl(host: string, args: string[]): Promise<Reply> {
    const words = args.filter((a) => !a.startsWith('-'));
    const [verb, raw] = words;
    if (verb === 'daemon-reload') return { code: 0, stdout: '', stderr: '' };
    if (!raw) return { code: 1, stdout: '', stderr: `systemctl (lab): ${args.join(' ')} not emulated\n` };
    const unit = this.unitName(host, raw);
    const procs = this.wh.procs.get(host) ?? new Map();
    this.wh.procs.set(host, procs);
    const p = procs.get(unit);
    const running = !!p?.running;
    switch (verb) {
      case 'status':
      case 'is-active':
        return { code: running ? 0 : 3, stdout: verb === 'status' ? `● ${unit}.service (lab)\n     Active: ${running ? `active (running) main PID ${p!.hostPid()}` : 'inactive (dead)'}\n` : `${running ? 'active' : 'inactive'}\n`, stderr: '' };
      case 'stop':
        if (running) await this.stopUnit(host, unit);
        return { code: 0, stdout: '', stderr: '' };
      case 'start':
        if (!running) await this.startUnit(host, unit);
        return { code: 0, stdout: '', stderr: '' };
      case 'restart':
        if (running) await this.stopUnit(host, unit);
        await this.startUnit(host, unit);
        return { code: 0, stdout: '', stderr: '' };
      case 'reload': {
        if (!running) return { code: 1, stdout: '', stderr: `${unit}.service is not active, cannot reload.\n` };
        const u = parseUnit(await this.wh.lab.readFile(host, `/etc/systemd/system/${unit}.service`));
        const reload = unitValue(u, 'Service', 'ExecReload');
        if (!reload) return { code: 1, stdout: '', stderr: `Failed to reload ${unit}.service: Job type reload is not applicable for unit ${unit}.service.\n` };
        const env = { ...(await unitEnvironment(this.wh.lab, host, u)), MAINPID: String(p!.hostPid()) };
        const r = await this.wh.lab.exec(host, expandArgv(splitExec(reload).argv, env), { env, timeoutMs: 60_000 });
        return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
      }
      default:
        return { code: 1, stdout: '', stderr: `systemctl (lab): ${verb} not emulated\n` };
    }
  }

  /**
   * As systemd stops it: KillSignal= (default SIGTERM) to the main process, SIGKILL to all after
   * TimeoutStopSec (TimeoutSec=, 90 s). The PostgreSQL unit's SIGINT is a fast shutdown; SIGTERM
   * would be a smart one, waiting for every session (the exporter's: the whole 120 s).
   */
  async stopUnit(host: string, unit: string): Promise<void> {
    const p = this.wh.procs.get(host)?.get(unit);
    if (!p) return;
    let timeout = 90;
    let signal: NodeJS.Signals = 'SIGTERM';
    const file = `/etc/systemd/system/${unit}.service`;
    if (existsSync(this.wh.lab.path(host, file))) {
      const u = parseUnit(await this.wh.lab.readFile(host, file));
      timeout = Number(unitValue(u, 'Service', 'TimeoutStopSec') ?? unitValue(u, 'Service', 'TimeoutSec') ?? 90);
      const k = unitValue(u, 'Service', 'KillSignal');
      if (k) signal = (k.startsWith('SIG') ? k : `SIG${k}`) as NodeJS.Signals;
    }
    const t0 = Date.now();
    await p.stop(signal, timeout * 1000);
    this.stops.push({ host, unit, signal, seconds: (Date.now() - t0) / 1000 });
  }

  async startUnit(host: string, unit: string): Promise<void> {
    const procs = this.wh.procs.get(host)!;
    if (unit === this.appUnit(host)) {
      procs.set(unit, await this.wh.startAppStandIn(host, unit));
      return;
    }
    const s = await startUnitOnHost(this.wh.lab, host, unit);
    if (!s.oneshot) procs.set(unit, s.proc);
    await s.ready;
  }

  /** docker kill NAME: the app container, which the lab replaces by a stand-in (SIGKILL to it). */
  async docker(host: string, args: string[]): Promise<Reply> {
    const app = this.appUnit(host);
    if (args[0] === 'kill' && app && args[1] === app) {
      const p = this.wh.procs.get(host)?.get(app);
      if (!p?.running) return { code: 1, stdout: '', stderr: `Error response from daemon: Cannot kill container: ${app}: container is not running\n` };
      await p.stop('SIGKILL', 0);
      return { code: 0, stdout: `${app}\n`, stderr: '' };
    }
    return { code: 1, stdout: '', stderr: `docker (lab): ${args.join(' ')} not emulated\n` };
  }

  /** A line as the operator types it, on the client host (the operator's machine) in the bundle folder. */
  async operator(line: string, bundleDir: string, timeoutMs = 300_000): Promise<{ code: number; out: string; seconds: number }> {
    const t0 = Date.now();
    const r = await this.wh.lab.exec(CLIENT.name, ['bash', '-c', line], { cwd: bundleDir, env: { PATH: LAB_PATH }, timeoutMs });
    return { code: r.code ?? 255, out: `${r.stdout}${r.stderr}`, seconds: (Date.now() - t0) / 1000 };
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
