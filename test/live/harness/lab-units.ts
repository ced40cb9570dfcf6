/**
 * Starting a generated systemd unit on a whole-host lab host (test/lab) the way systemd would, for
 * hosts that have no systemd: the unit file installed on the host decides the program, its user,
 * its environment and its folders, not the test.
 *
 * What is honoured: ExecStartPre= (prefixes '-' ignore failure, '+' / '!' run as root; lines that
 * call systemctl are skipped: there is no systemd in a lab host), ExecStart=, User=, Environment=,
 * EnvironmentFile= (read from the host's own file, '-' optional), RuntimeDirectory= (made empty,
 * owned by User=, mode RuntimeDirectoryMode=), StateDirectory= (made when missing, owned by
 * User=, mode StateDirectoryMode=), AmbientCapabilities= (kept by the user), ${VAR} and $VAR expansion in command lines, Type=oneshot (run
 * to its end), Type=notify (a notification socket: `ready` resolves on READY=1). Restart= is the
 * test's job.
 */
import { waitUntil, type HostProcess, type Lab } from '../../lab/lab.js';
import { parseUnit, splitExec, unitValue, unitValues, type UnitFile } from './common.js';

/** systemd's EnvironmentFile= syntax: KEY=VALUE lines, '#'/';' comments, optional quotes. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** Environment= values: space-separated assignments, each optionally quoted. */
function parseEnvironmentLine(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of splitExec(value).argv) {
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

/** systemd's variable expansion in a command line: ${VAR} anywhere, $VAR as a whole word (split on spaces). */
export function expandArgv(argv: string[], env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(a);
    if (whole) {
      out.push(...(env[whole[1]!] ?? '').split(/\s+/).filter(Boolean));
      continue;
    }
    out.push(a.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k: string) => env[k] ?? ''));
  }
  return out;
}

export interface UnitStart {
  unit: string;
  proc: HostProcess;
  user: string;
  argv: string[];
  /** ExecStartPre lines skipped (systemctl), for the test's report. */
  skipped: string[];
  /** Type=oneshot: ran to its end (successfully) before startUnitOnHost resolved. */
  oneshot: boolean;
  /** Resolves when the unit is started as systemd sees it: Type=notify when the service sent READY=1, else at once. */
  ready: Promise<void>;
}

/** The unit file of a host as the host sees it (/etc/systemd/system/NAME). */
export async function readUnit(lab: Lab, host: string, unit: string): Promise<UnitFile> {
  const name = /\.[a-z]+$/.test(unit) ? unit : `${unit}.service`;
  return parseUnit(await lab.readFile(host, `/etc/systemd/system/${name}`));
}

/** The environment a unit's processes get: Environment= lines, then EnvironmentFile= files in order. */
export async function unitEnvironment(lab: Lab, host: string, u: UnitFile): Promise<Record<string, string>> {
  let env: Record<string, string> = {};
  for (const v of unitValues(u, 'Service', 'Environment')) env = { ...env, ...parseEnvironmentLine(v) };
  for (const v of unitValues(u, 'Service', 'EnvironmentFile')) {
    const optional = v.startsWith('-');
    const file = optional ? v.slice(1) : v;
    try {
      env = { ...env, ...parseEnvironmentFile(await lab.readFile(host, file)) };
    } catch (e) {
      if (!optional) throw new Error(`${host}: EnvironmentFile ${file} of the unit is missing (deploy.sh writes it): ${String(e)}`);
    }
  }
  return env;
}

/** systemd's side of sd_notify: a datagram socket (argv[1]) that prints every message it gets. */
const NOTIFY_LISTENER = `
import os, socket, sys
p = sys.argv[1]
try:
    os.unlink(p)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(p)
os.chmod(p, 0o777)
print("listening", flush=True)
while True:
    print(s.recv(4096).decode(errors="replace").replace("\\n", " "), flush=True)
`;

const mode = (v: string | undefined, dflt: number) => (v ? parseInt(v, 8) : dflt);

/**
 * Starts a unit on a lab host as systemd would (see the file comment). ExecStartPre lines run to
 * their end first; a failing one without '-' throws with its output. Resolves with the started
 * ExecStart process (its output in the host's log folder, named after the unit).
 */
export async function startUnitOnHost(lab: Lab, host: string, unit: string, o: { extraEnv?: Record<string, string> } = {}): Promise<UnitStart> {
  const u = await readUnit(lab, host, unit);
  const user = unitValue(u, 'Service', 'User') ?? 'root';
  const env = { ...(await unitEnvironment(lab, host, u)), ...o.extraEnv };
  const owner = user === 'root' ? undefined : user;
  for (const d of unitValues(u, 'Service', 'RuntimeDirectory').flatMap((v) => v.split(/\s+/)).filter(Boolean)) {
    await lab.mkdir(host, `/run/${d}`, { owner, mode: mode(unitValue(u, 'Service', 'RuntimeDirectoryMode'), 0o755) });
  }
  for (const d of unitValues(u, 'Service', 'StateDirectory').flatMap((v) => v.split(/\s+/)).filter(Boolean)) {
    await lab.mkdir(host, `/var/lib/${d}`, { owner, mode: mode(unitValue(u, 'Service', 'StateDirectoryMode'), 0o755) });
  }
  const skipped: string[] = [];
  for (const line of unitValues(u, 'Service', 'ExecStartPre')) {
    const prefixes = /^[-@:+!]*/.exec(line)![0];
    const { argv, ignoreFailure } = splitExec(line);
    const full = expandArgv(argv, env);
    if (full.some((a) => /(^|\/)systemctl$/.test(a) || /\bsystemctl\b/.test(a))) {
      skipped.push(line);
      continue;
    }
    const r = await lab.exec(host, full, { user: prefixes.includes('+') || prefixes.includes('!') ? 'root' : user, env, timeoutMs: 30_000 });
    if (r.code !== 0 && !ignoreFailure) throw new Error(`${host}: ${unit}: ExecStartPre ${line} failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  const start = unitValue(u, 'Service', 'ExecStart');
  if (!start) throw new Error(`${host}: ${unit} has no ExecStart`);
  const { argv: startArgv, ignoreFailure } = splitExec(start);
  const argv = expandArgv(startArgv, env);
  const type = unitValue(u, 'Service', 'Type') ?? 'simple';
  // Type=notify: systemd's notification socket, so the service itself says when it is ready.
  let notify: HostProcess | null = null;
  const label = unit.replace(/\.service$/, '');
  if (type === 'notify') {
    const sock = `/run/hglab-notify/${label}.sock`;
    await lab.mkdir(host, '/run/hglab-notify', { mode: 0o755 });
    notify = lab.spawn(host, ['/usr/bin/python3', '-c', NOTIFY_LISTENER, sock], { name: `${label}-notify` });
    await waitUntil(`${host}: the notify socket of ${unit}`, () => notify!.log().includes('listening') || (!notify!.running && Promise.reject(new Error(notify!.log()))), 10_000, 10);
    env.NOTIFY_SOCKET = sock;
  }
  // AmbientCapabilities=: a non-root service that binds a port below 1024 (Caddy as user caddy on :80).
  const ambientCaps = unitValues(u, 'Service', 'AmbientCapabilities').flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const proc = lab.spawn(host, argv, { user, env, name: label, ambientCaps });
  const ready =
    type === 'notify'
      ? waitUntil(`${host}: ${unit} to notify READY=1 (systemd's default start timeout, 90 s)`, () => {
          if (/\bREADY=1\b/.test(notify!.log())) return true;
          if (!proc.running) throw new Error(`${unit} exited: ${proc.log().split('\n').slice(-10).join('\n')}`);
          return false;
        }, 90_000, 50).then(
          () => notify!.stop('SIGKILL', 0),
          async (e) => {
            await notify!.stop('SIGKILL', 0);
            throw e;
          },
        )
      : Promise.resolve();
  // Type=oneshot: systemd waits for the program to end (and fails the unit when it fails).
  const oneshot = type === 'oneshot';
  if (oneshot) {
    const { code, signal } = await Promise.race([proc.exited, new Promise<{ code: null; signal: null }>((r) => setTimeout(() => r({ code: null, signal: null }), 60_000))]);
    if (code !== 0 && !ignoreFailure) throw new Error(`${host}: ${unit} (oneshot) failed (exit ${code ?? signal ?? 'timeout'}): ${proc.log()}`);
  }
  return { unit, proc, user, argv, skipped, oneshot, ready };
}
