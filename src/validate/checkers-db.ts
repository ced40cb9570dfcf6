/**
 * Checkers for Patroni and etcd files. Both tools insist on the network: Patroni's validator
 * connects to the etcd hosts and wants its own ports free, etcd binds its URLs. So each runs in a
 * private network namespace (`unshare -n` inside the usual mount namespace) where the addresses a
 * file names are put on the loopback device, with throwaway listeners standing in for etcd.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { exec } from './exec.js';
import type { Checker, CheckEnv, CheckOutcome } from './common.js';
import { inSlot, once, pgBinDir } from './common.js';
import { runEach, runIsolated, runIsolatedEach } from './sandbox.js';
import { throwawayCerts } from './tls.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
import { isIpv4 } from '../model/constants.js';
const dummyEnv = (env: CheckEnv) => Object.fromEntries(env.manifest.secrets.map((s) => [s, `hagencheck${s.length}`]));

/** host:port -> [host, port] (IPv4 or a name). */
function hostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

/** Shell lines that bring up loopback in a fresh network namespace with the given IPv4 addresses on it. */
function netSetup(addresses: string[]): string[] {
  const extra = [...new Set(addresses.filter((a) => isIpv4(a) && !a.startsWith('127.')))];
  return ['ip link set lo up', ...extra.map((a) => `ip addr add ${a}/32 dev lo`)];
}

/**
 * Every Patroni file of the bundle in one Python: it imports what /usr/bin/patroni imports once
 * (~0.25 s of CPU), then forks one child per file. Each child gets its own network and mount
 * namespaces (the file's addresses on loopback, a tmpfs over /var/lib/postgresql), binds
 * stand-in etcd listeners, and runs the real /usr/bin/patroni --validate-config with its output
 * going to that file's own log; its exit code is its verdict.
 */
const PATRONI_BATCH = String.raw`
import ctypes, json, os, runpy, signal, socket, subprocess, sys, traceback
jobs = json.load(open(sys.argv[1]))
sys.path[0] = '/usr/bin'  # as for python3 /usr/bin/patroni
import importlib.metadata, patroni.__main__, patroni.config, patroni.daemon, patroni.validator
importlib.metadata.distribution('patroni').entry_points
libc = ctypes.CDLL(None, use_errno=True)

def check(j):
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: do not outlive the batch
    if libc.unshare(0x00020000 | 0x40000000) != 0:  # CLONE_NEWNS | CLONE_NEWNET
        e = ctypes.get_errno()
        raise OSError(e, 'unshare: ' + os.strerror(e))
    subprocess.run(['sh', '-c', j['setup']])
    held = []
    for host, port in j['listen']:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(16)
        held.append(s)
    sys.argv = ['/usr/bin/patroni', '--validate-config', j['config']]
    try:
        runpy.run_path('/usr/bin/patroni', run_name='__main__')
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    return 0

pending = {}
for j in jobs:
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fd = os.open(j['out'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1); os.dup2(fd, 2); os.close(fd)
            code = check(j)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)
    pending[pid] = j

timed_out = set()
def on_alarm(*_):
    for pid in pending:
        timed_out.add(pid)
        os.kill(pid, signal.SIGKILL)
signal.signal(signal.SIGALRM, on_alarm)
signal.alarm(25)
results = {}
while pending:
    pid, status = os.waitpid(-1, 0)
    j = pending.pop(pid, None)
    if j is not None:
        results[j['file']] = {'exitCode': os.waitstatus_to_exitcode(status), 'timedOut': pid in timed_out}
with open(sys.argv[2], 'w') as f:
    json.dump(results, f)
`;

interface PatroniJob {
  file: string;
  config: string;
  out: string;
  setup: string;
  listen: Array<[string, number]>;
}

type PatroniRun = { exitCode: number; output: string; timedOut: boolean };

/** Reads and prepares one Patroni file: the copy the validator reads and its namespace set-up. */
async function patroniJob(env: CheckEnv, file: string, pg: string): Promise<{ job: PatroniJob; doc: Record<string, any>; copy: string }> {
  const text = await fs.readFile(path.join(env.bundleDir, file), 'utf8');
  const doc = parseYaml(text) as Record<string, any>;
  // The bundle's PostgreSQL major may not be the one installed here: point at the installed one.
  const copyText = text.replace(/\/usr\/lib\/postgresql\/[0-9]+\/bin/g, pg);
  const copy = path.join(env.tmp, 'patroni', file.replaceAll('/', '_'));
  await fs.mkdir(path.dirname(copy), { recursive: true });
  await fs.writeFile(copy, copyText);
  const dcs = doc.etcd3 ?? doc.etcd;
  const hosts: string[] = Array.isArray(dcs?.hosts) ? dcs.hosts : typeof dcs?.hosts === 'string' ? dcs.hosts.split(',') : dcs?.host ? [dcs.host] : [];
  const etcd = hosts.map(hostPort);
  const own = [doc.restapi?.listen, doc.postgresql?.listen].filter(Boolean).map((s: string) => hostPort(s)[0]);
  // Names resolve to 127.0.0.1 in the sandbox: one stand-in etcd listener per distinct address and port.
  const listen = [...new Map(etcd.map(([h, p]) => [`${isIpv4(h) ? h : '127.0.0.1'}:${p}`, [isIpv4(h) ? h : '127.0.0.1', p] as [string, number]])).values()];
  const setup = [...netSetup([...etcd.map(([h]) => h), ...own]), 'mount -t tmpfs tmpfs /var/lib/postgresql 2>/dev/null || true'].join('\n');
  return { job: { file, config: copy, out: `${copy}.log`, setup, listen }, doc, copy };
}

interface PatroniVerdict {
  error?: Error;
  run?: PatroniRun;
  /** postgres -C on the file's postgresql.parameters, when the validator passed it */
  params?: { count: number; run: PatroniRun };
}

/** Patroni does not check PostgreSQL settings: postgres -C does, from a file made of them. */
async function paramsConf(env: CheckEnv, copy: string, doc: Record<string, any>): Promise<{ conf: string; count: number }> {
  const params = { ...(doc.bootstrap?.dcs?.postgresql?.parameters ?? {}), ...(doc.postgresql?.parameters ?? {}) } as Record<string, unknown>;
  const conf = path.join(env.tmp, 'patroni', `${path.basename(copy)}.conf`);
  await fs.writeFile(conf, Object.entries(params).map(([k, v]) => `${k} = '${String(v).replace(/'/g, "''")}'`).join('\n') + '\n');
  return { conf, count: Object.keys(params).length };
}

/** The verdicts on every Patroni file of the bundle (or why a file could not be checked), run once. */
function patroniBatch(env: CheckEnv, pg: string): Promise<Map<string, PatroniVerdict>> {
  return once(env, 'patroni-batch', async () => {
    const files = Object.entries(env.manifest.files).filter(([, e]) => e.checks.some((c) => c.tool === 'patroni')).map(([f]) => f);
    const res = new Map<string, PatroniVerdict>();
    const prepared = await Promise.all(files.map((f) => patroniJob(env, f, pg).catch((err: Error) => err)));
    const jobs: Array<{ job: PatroniJob; doc: Record<string, any>; copy: string }> = [];
    files.forEach((f, i) => {
      const p = prepared[i]!;
      if (p instanceof Error) res.set(f, { error: p });
      else jobs.push(p);
    });
    if (!jobs.length) return res;
    const dir = path.join(env.tmp, 'patroni');
    const script = path.join(dir, 'batch.py');
    const jobsFile = path.join(dir, 'jobs.json');
    const resultsFile = path.join(dir, 'results.json');
    await fs.writeFile(script, PATRONI_BATCH);
    await fs.writeFile(jobsFile, JSON.stringify(jobs.map((j) => j.job)));
    const r = await inSlot(env, 'patroni', () => runIsolated(env.sandbox, ['/usr/bin/python3', script, jobsFile, resultsFile], { env: dummyEnv(env), timeoutMs: 30000 }));
    const codes = JSON.parse(await fs.readFile(resultsFile, 'utf8').catch(() => '{}')) as Record<string, { exitCode: number; timedOut: boolean }>;
    const passed: Array<{ file: string; conf: string; count: number }> = [];
    for (const { job, doc, copy } of jobs) {
      const c = codes[job.file];
      const output = (await fs.readFile(job.out, 'utf8').catch(() => '')).trim();
      // No verdict: the batch itself failed (its output says why), or it timed out.
      const run = c ? { ...c, output } : { exitCode: r.exitCode || 1, output: output || r.output, timedOut: r.timedOut };
      res.set(job.file, { run });
      if (!run.timedOut && run.exitCode === 0 && !run.output) passed.push({ file: job.file, ...(await paramsConf(env, copy, doc)) });
    }
    if (passed.length) {
      const empty = path.join(dir, 'empty');
      await fs.mkdir(empty, { recursive: true });
      // one shell runs them all (one program started from here instead of one per file)
      const runs = await inSlot(env, 'patroni', () => runEach(path.join(dir, 'params'), passed.map((p) => ({ argv: [`${pg}/postgres`, '-C', 'wal_level', '-c', `config_file=${p.conf}`, '-D', empty] })), { timeoutMs: 10000 * passed.length }));
      passed.forEach((p, i) => (res.get(p.file)!.params = { count: p.count, run: runs[i]! }));
    }
    return res;
  });
}

export const patroniChecker: Checker = {
  needs: ['patroni', 'postgres', 'ip', 'python3'],
  install: 'apt-get install patroni postgresql iproute2',
  lane: 'self',
  async run(env, file) {
    const pg = pgBinDir();
    if (!pg) return { ok: false, message: 'no PostgreSQL server binaries found', skipped: true };
    const mine = (await patroniBatch(env, pg)).get(file);
    if (!mine || mine.error) throw mine?.error ?? new Error('not in the Patroni batch');
    const r = mine.run!;
    if (r.timedOut) return { ok: false, message: 'patroni --validate-config: timed out' };
    if (r.exitCode !== 0 || r.output.trim()) return { ok: false, message: `patroni --validate-config: ${r.output || `exit code ${r.exitCode}`}` };
    const { count, run: c } = mine.params!;
    if (c.exitCode !== 0 || /FATAL|ERROR|unrecognized/i.test(c.output)) return { ok: false, message: `postgresql.parameters rejected by postgres -C: ${c.output}` };
    return { ok: true, message: `patroni --validate-config: valid; ${count} postgresql.parameters accepted by postgres -C` };
  },
};

/**
 * An extended regular expression for the /proc/net/tcp{,6} line of a listener (state 0A) on url's
 * port: at its IPv4 address (also IPv4-mapped) or a wildcard (Go listens on [::] for 0.0.0.0); at
 * any address for names and IPv6.
 */
export function listenPattern(url: string): string {
  const m = /^(https?):\/\/(\[[^\]]*\]|[^:/]*)(?::([0-9]+))?/.exec(url.trim());
  // not an http(s) URL: nothing can match, so the check fails as it did when probing it
  if (!m) return '^no-such-listener$';
  const port = Number(m[3] ?? (m[1] === 'https' ? 443 : 80)).toString(16).toUpperCase().padStart(4, '0');
  const host = m[2]!;
  const line = (addr: string) => `: (${addr}):${port} [0-9A-F]+:[0-9A-F]{4} 0A `;
  if (!isIpv4(host)) return line('[0-9A-F]+');
  const hex = host.split('.').map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0')).reverse().join('');
  // 127.0.0.1 was the probe for 0.0.0.0: a wildcard listener is reachable at every address
  return line(`${hex}|0000000000000000FFFF0000${hex}|00000000|0{32}`);
}

/** etcd's TLS settings are maps in its config file (no flag of that name) with these keys (etcd 3.4 embed.securityConfig). */
const TLS_SECTIONS = ['client-transport-security', 'peer-transport-security'];
const TLS_KEYS = ['cert-file', 'key-file', 'client-cert-auth', 'trusted-ca-file', 'auto-tls'];

let etcdFlags: Promise<Set<string>> | undefined;
/** Config-file keys etcd knows: its command-line flags (`etcd --help`), which the file mirrors. */
function knownEtcdKeys(): Promise<Set<string>> {
  // enable-grpc-gateway is read from config files but not listed by `etcd --help` (3.4).
  etcdFlags ??= exec('etcd', ['--help']).then((r) => new Set([...[...String(r.all ?? '').matchAll(/^\s+--([a-z0-9-]+)/gm)].map((m) => m[1]!), 'enable-grpc-gateway']));
  return etcdFlags;
}

/** One etcd file: a verdict without starting it (unknown keys), or the script that starts it. */
async function etcdJob(env: CheckEnv, file: string): Promise<CheckOutcome | string[]> {
  const text = await fs.readFile(path.join(env.bundleDir, file), 'utf8');
  const doc = parseYaml(text) as Record<string, unknown>;
  const known = await knownEtcdKeys();
  if (!known.size) return { ok: false, message: 'could not read the flags of `etcd --help`' };
  const unknown = Object.keys(doc).filter((k) => !known.has(k) && !TLS_SECTIONS.includes(k));
  for (const sec of TLS_SECTIONS) {
    const v = doc[sec];
    if (v === undefined) continue;
    if (!v || typeof v !== 'object') unknown.push(`${sec} (not a map)`);
    else unknown.push(...Object.keys(v).filter((k) => !TLS_KEYS.includes(k)).map((k) => `${sec}.${k}`));
  }
  if (unknown.length) return { ok: false, message: `unknown etcd setting(s): ${unknown.join(', ')} (etcd ignores them silently)` };
  // Start it for real with a throwaway data dir: bad URLs or values fail at once.
  const dir = path.join(env.tmp, 'etcd', file.replaceAll('/', '_'));
  await fs.mkdir(dir, { recursive: true });
  const copy = path.join(dir, 'etcd.conf.yml');
  let runText = text.replace(/^data-dir:.*$/m, `data-dir: ${dir}/data`);
  // The host's certificate files are not here: a throwaway certificate (its own CA) stands in for them.
  if (TLS_SECTIONS.some((sec) => doc[sec])) {
    const c = await throwawayCerts(env);
    runText = runText.replace(/^(\s+)(cert-file|key-file|trusted-ca-file): .*$/gm, (_, sp: string, k: string) => `${sp}${k}: ${k === 'key-file' ? c.key : c.cert}`);
  }
  await fs.writeFile(copy, runText);
  const urls = String(doc['listen-client-urls'] ?? '').split(',').filter(Boolean);
  const addrs = [...urls, String(doc['listen-peer-urls'] ?? '')].map((u) => u.replace(/^https?:\/\//, '').replace(/:[0-9]+$/, ''));
  const probe = listenPattern(urls[0] ?? 'http://127.0.0.1:2379');
  const script = [
    ...netSetup(addrs),
    `etcd --config-file ${q(copy)} > ${q(dir)}/log 2>&1 & ep=$!`,
    'ok=1',
    // A lone member of a larger cluster serves no requests before it has quorum, but its client
    // port listens (the kernel's socket table of this namespace says so; no probe program to
    // start); a bad file exits. Then a grace: etcd checks the cluster settings after it binds.
    `i=0; while [ $i -lt 120 ]; do if grep -qE ${q(probe)} /proc/net/tcp /proc/net/tcp6 2>/dev/null; then ok=0; break; fi; kill -0 $ep 2>/dev/null || break; sleep 0.02; i=$((i+1)); done`,
    'sleep 0.2; kill -0 $ep 2>/dev/null || ok=1',
    'kill -9 $ep 2>/dev/null; wait $ep 2>/dev/null',
    `[ $ok = 0 ] || { tail -n 5 ${q(dir)}/log; exit 1; }`,
  ].join('\n');
  return ['unshare', '-n', 'sh', '-c', script];
}

export const etcdChecker: Checker = {
  needs: ['etcd', 'ip'],
  install: 'apt-get install etcd-server iproute2',
  // Every etcd file of the bundle starts at once, each in its own network namespace, all in one
  // mount namespace (one set-up); they mostly wait (the grace), so the batch takes no CPU slot.
  lane: 'self',
  async run(env, file): Promise<CheckOutcome> {
    const all = await once(env, 'batch:etcd', async () => {
      const files = Object.entries(env.manifest.files).filter(([, e]) => e.checks.some((c) => c.tool === 'etcd')).map(([f]) => f);
      const jobs = await Promise.all(files.map((f) => etcdJob(env, f).catch((err: Error) => err)));
      const argvs = jobs.filter((j): j is string[] => Array.isArray(j));
      const runs = argvs.length ? await runIsolatedEach(env.sandbox, argvs, { streams: argvs.length, timeoutMs: 20000 }) : [];
      return new Map(files.map((f, i) => {
        const j = jobs[i]!;
        return [f, Array.isArray(j) ? runs[argvs.indexOf(j)]! : j];
      }));
    });
    const r = all.get(file);
    if (!r || r instanceof Error) throw r ?? new Error('not in the etcd batch');
    if ('ok' in r) return r;
    if (r.exitCode !== 0) return { ok: false, message: `etcd did not start with this file: ${r.output}` };
    return { ok: true, message: 'etcd: known settings; started and listened on its client URL' };
  },
};
