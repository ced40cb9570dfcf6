/** One checker per tool: which programs it needs and how it runs them on one file. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Check, CheckTool } from '../render/bundle.js';
import type { Manifest } from '../write/manifest.js';
import { onInterrupt } from '../write/interrupt.js';
import { exec } from './exec.js';
import { runEach, runIsolated, runIsolatedEach, which, type Sandbox } from './sandbox.js';
import type { Slots } from './slots.js';
import { etcdChecker, patroniChecker } from './checkers-db.js';
import { k6Checker, pgbackrestChecker } from './ops-checkers.js';
import { systemdChecker } from './systemd.js';
import { throwawayCerts, x509Checker } from './tls.js';
import { CA_CERT, PKI_DIR } from '../targets/pki.js';
import { amtool, blackbox, promtoolConfig, promtoolRules, promtoolTest } from './monitoring-checkers.js';

export { inSlot, once, pgBinDir, locate, RANK, rankOf } from './common.js';
export type { CheckEnv, CheckOutcome, Checker } from './common.js';
import { inSlot, once, pgBinDir, locate, type CheckEnv, type CheckOutcome, type Checker } from './common.js';

const fileIn = (env: CheckEnv, file: string) => path.join(env.bundleDir, file);
const dummyEnv = (env: CheckEnv) => Object.fromEntries(env.manifest.secrets.map((s) => [s, `hagencheck${s.length}`]));
const outcome = (r: { exitCode: number; output: string; timedOut: boolean }, okText = ''): CheckOutcome =>
  r.timedOut ? { ok: false, message: 'timed out' } : { ok: r.exitCode === 0, message: r.exitCode === 0 ? okText || r.output : r.output || `exit code ${r.exitCode}` };

const certs = throwawayCerts;

/** A copy of the file with its certificate paths pointed at throwaway files (the paths only exist on the target). */
async function withThrowawayCerts(env: CheckEnv, file: string, swap: (text: string, c: { cert: string; key: string; combined: string }) => string): Promise<string> {
  const text = await fs.readFile(fileIn(env, file), 'utf8');
  const c = await certs(env);
  const copy = path.join(env.tmp, 'files', file);
  await fs.mkdir(path.dirname(copy), { recursive: true });
  await fs.writeFile(copy, swap(text, c));
  return copy;
}

const nginx: Checker = {
  needs: ['nginx', 'openssl'],
  install: 'apt-get install nginx',
  async run(env, file) {
    const copy = await withThrowawayCerts(env, file, (t, c) =>
      t.replace(/^(\s*ssl_certificate_key\s+)[^;]+;/gm, `$1${c.key};`).replace(/^(\s*ssl_certificate\s+)[^;]+;/gm, `$1${c.cert};`),
    );
    const prefix = path.join(env.tmp, 'nginx-prefix', path.basename(path.dirname(copy)) + path.basename(copy));
    await fs.mkdir(path.join(prefix, 'logs'), { recursive: true });
    const r = await runIsolated(env.sandbox, ['nginx', '-t', '-q', '-e', 'stderr', '-p', `${prefix}/`, '-c', copy], { mkdirs: ['/var/log/nginx', '/var/lib/nginx/body'] });
    return outcome(r, 'nginx -t: syntax ok, test successful');
  },
};

const haproxy: Checker = {
  needs: ['haproxy', 'openssl'],
  install: 'apt-get install haproxy',
  lane: 'self',
  async run(env, file) {
    // Every haproxy file of the bundle in one namespace, each its own `haproxy -c` (see runIsolatedEach).
    const all = await once(env, 'batch:haproxy', async () => {
      const files = Object.entries(env.manifest.files).filter(([, e]) => e.checks.some((c) => c.tool === 'haproxy')).map(([f]) => f);
      // ca-file (the database endpoint's checks of Patroni): the bundle's own CA when pki/ is here, else a throwaway one
      const bundleCa = path.join(env.bundleDir, PKI_DIR, CA_CERT);
      const ca = (c: { cert: string }) => (existsSync(bundleCa) ? bundleCa : c.cert);
      const copies = await Promise.all(files.map((f) => withThrowawayCerts(env, f, (t, c) => t.replace(/(\sssl\s+crt\s+)\S+/g, `$1${c.combined}`).replace(/(\sca-file\s+)\S+/g, `$1${ca(c)}`)).catch((err: Error) => err)));
      const ready = copies.filter((c): c is string => typeof c === 'string');
      const runs = await inSlot(env, 'haproxy', () => runIsolatedEach(env.sandbox, ready.map((c) => ['haproxy', '-c', '-f', c]), { env: dummyEnv(env), mkdirs: ['/run/haproxy'], streams: 2 }));
      return new Map(files.map((f, i) => [f, typeof copies[i] === 'string' ? runs[ready.indexOf(copies[i] as string)]! : (copies[i] as Error)]));
    });
    const r = all.get(file);
    if (!r || r instanceof Error) throw r ?? new Error('not in the haproxy batch');
    // -c passes with warnings; a warning here is a config smell we want to see, so it fails the check.
    if (r.exitCode === 0 && /\[WARNING\]/.test(r.output)) return { ok: false, message: r.output };
    return outcome(r, 'haproxy -c: configuration file is valid');
  },
};

/**
 * keepalived --config-test in a network namespace that has the configured interface (a veth), with the
 * password include pointed at a throwaway file. Its exit code is 143 whether the file is valid or not
 * (2.2.7 ends the test with SIGTERM), and 5 for fatal errors: problems are the "(file: Line N)" lines.
 */
const keepalived: Checker = {
  needs: ['keepalived', 'ip'],
  install: 'apt-get install keepalived iproute2',
  async run(env, file) {
    const text = await fs.readFile(fileIn(env, file), 'utf8');
    const auth = path.join(env.tmp, `keepalived-auth-${createHash('sha256').update(file).digest('hex').slice(0, 8)}.conf`);
    await fs.writeFile(auth, 'auth_pass hagenchk\n');
    const copy = path.join(env.tmp, `keepalived-${createHash('sha256').update(file).digest('hex').slice(0, 8)}.conf`);
    await fs.writeFile(copy, text.replace(/^(\s*include\s+)\S+auth\.conf\s*$/gm, `$1${auth}`));
    const iface = /^\s*interface\s+(\S+)/m.exec(text)?.[1] ?? 'eth0';
    const script = `ip link add ${iface} type veth peer name hagenpeer0 && ip link set ${iface} up && exec keepalived --config-test -f ${copy}`;
    const r = await runIsolated(env.sandbox, ['unshare', '-n', 'sh', '-c', script], { mkdirs: ['/run/keepalived'] });
    const problems = r.output.split('\n').filter((l) => /\(.*Line \d+\)|Non-existent|error/i.test(l));
    if ((r.exitCode === 0 || r.exitCode === 143) && !problems.length) return { ok: true, message: 'keepalived --config-test: no problems' };
    return { ok: false, message: problems.join('\n') || r.output.trim() || `keepalived --config-test exited ${r.exitCode}` };
  },
};

/** nft -c parses and checks a ruleset in a private network namespace: the machine's firewall is never touched. */
const nft: Checker = {
  needs: ['nft'],
  install: 'apt-get install nftables',
  async run(env, file) {
    const r = await runIsolated(env.sandbox, ['unshare', '-n', 'nft', '-c', '-f', fileIn(env, file)]);
    return r.exitCode === 0 ? { ok: true, message: 'nft -c: ruleset valid' } : outcome(r);
  },
};

const caddy: Checker = {
  needs: ['caddy', 'openssl'],
  install: 'apt-get install caddy',
  async run(env, file) {
    const copy = await withThrowawayCerts(env, file, (t, c) => t.replace(/^(\s*tls\s+)\/\S+\s+\/\S+/gm, `$1${c.cert} ${c.key}`));
    const r = await runIsolated(env.sandbox, ['caddy', 'validate', '--config', copy, '--adapter', 'caddyfile'], { mkdirs: ['/var/log/caddy'], env: { XDG_DATA_HOME: path.join(env.tmp, 'caddy-data'), XDG_CONFIG_HOME: path.join(env.tmp, 'caddy-config') } });
    if (r.exitCode !== 0) return outcome(r);
    // 2.6 accepts some unbalanced braces silently; the formatter's view must match ours.
    const fmt = await exec('caddy', ['fmt', copy]);
    const original = await fs.readFile(copy, 'utf8');
    if (fmt.exitCode === 0 && fmt.stdout.trim() !== original.trim()) return { ok: false, message: 'caddy fmt would reformat this file (unbalanced braces or odd layout)' };
    return { ok: true, message: 'caddy validate: valid configuration' };
  },
};

/** Undefined networks, volumes, secrets or depends_on targets pass every Compose tool, so they are checked here. */
export function composeReferences(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const services = (doc.services ?? {}) as Record<string, Record<string, unknown>>;
  const defined = (k: string) => new Set(Object.keys((doc[k] ?? {}) as object));
  const nets = defined('networks');
  const vols = defined('volumes');
  const secrets = defined('secrets');
  const configs = defined('configs');
  for (const [name, svc] of Object.entries(services)) {
    const svcNets = Array.isArray(svc.networks) ? (svc.networks as string[]) : Object.keys((svc.networks ?? {}) as object);
    for (const n of svcNets) if (!nets.has(n)) problems.push(`service ${name}: network "${n}" is not defined`);
    for (const v of (svc.volumes ?? []) as Array<string | { source?: string; type?: string }>) {
      const src = typeof v === 'string' ? v.split(':')[0]! : (v.type === 'volume' ? v.source : undefined);
      if (src && !src.startsWith('.') && !src.startsWith('/') && !src.startsWith('$') && !vols.has(src)) problems.push(`service ${name}: volume "${src}" is not defined`);
    }
    const deps = Array.isArray(svc.depends_on) ? (svc.depends_on as string[]) : Object.keys((svc.depends_on ?? {}) as object);
    for (const d of deps) if (!services[d]) problems.push(`service ${name}: depends_on "${d}" is not a service`);
    for (const s of (svc.secrets ?? []) as Array<string | { source: string }>) {
      const src = typeof s === 'string' ? s : s.source;
      if (!secrets.has(src)) problems.push(`service ${name}: secret "${src}" is not defined`);
    }
    for (const s of (svc.configs ?? []) as Array<string | { source: string }>) {
      const src = typeof s === 'string' ? s : s.source;
      if (!configs.has(src)) problems.push(`service ${name}: config "${src}" is not defined`);
    }
  }
  return problems;
}

/** Compose and stack files: our reference check, then the tool's own loader with .env names set to dummies. */
function composeFileChecker(bin: string, install: string, argv: (abs: string) => string[], okText: string, extraEnv: (env: CheckEnv) => Record<string, string> = () => ({})): Checker {
  return {
    needs: [bin],
    install,
    async run(env, file) {
      const abs = fileIn(env, file);
      const refs = composeReferences(parseYaml(await fs.readFile(abs, 'utf8')) as Record<string, unknown>);
      if (refs.length) return { ok: false, message: refs.join('\n') };
      const [cmd, ...args] = argv(abs) as [string, ...string[]];
      const r = await exec(cmd, args, { cwd: path.dirname(abs), env: { ...dummyEnv(env), PATH: process.env.PATH ?? '', ...extraEnv(env) }, extendEnv: false, timeout: 20000 });
      const res = { exitCode: r.exitCode ?? 1, output: String(r.all ?? ''), timedOut: !!r.timedOut };
      return res.exitCode === 0 && !res.timedOut ? { ok: true, message: okText } : outcome(res);
    },
  };
}

const compose = composeFileChecker('docker-compose', 'apt-get install docker-compose', (abs) => ['docker-compose', '-f', abs, 'config', '-q'], 'docker-compose config: valid');
// `docker stack config` runs Swarm's own loader offline: stricter than docker-compose for stack files.
const stack = composeFileChecker('docker', 'install the docker CLI (docker.io or docker-ce-cli)', (abs) => ['docker', 'stack', 'config', '-c', abs], 'docker stack config: valid', (env) => ({ HOME: env.tmp, DOCKER_CONFIG: path.join(env.tmp, 'docker') }));

const pgConf: Checker = {
  needs: ['postgres'],
  install: 'apt-get install postgresql',
  async run(env, file) {
    const bin = (await locate(env, 'postgres'))!;
    const empty = path.join(env.tmp, 'pg-empty');
    await fs.mkdir(empty, { recursive: true });
    // Included files (conf.d) are checked by including the fragment from an otherwise empty main file.
    const r = await exec(bin, ['-C', 'wal_level', '-c', `config_file=${fileIn(env, file)}`, '-D', empty], { timeout: 10000 });
    const out = String(r.all ?? '');
    return r.exitCode === 0 && !/FATAL|ERROR|LOG:\s+unrecognized/i.test(out) ? { ok: true, message: `postgres -C: valid (${path.basename(path.dirname(path.dirname(bin)))})` } : { ok: false, message: out || `exit code ${r.exitCode}` };
  },
};

interface PgCluster {
  psql(args: string[], input: string): Promise<{ exitCode: number; output: string }>;
  /** Several files, each its own psql session, one after another (one shell started from here). */
  psqlEach(runs: Array<{ args: string[]; file: string }>): Promise<ToolRun[]>;
  hbaPath: string;
  dispose(): Promise<void>;
}

const isRoot = () => process.getuid?.() === 0;
const asPostgres = (argv: string[]) => (isRoot() ? ['runuser', '-u', 'postgres', '--', ...argv] : argv);

/** A throwaway PostgreSQL on a Unix socket only, as the postgres user, for pg_hba and SQL checks. */
/**
 * Where the throwaway cluster lives: a tmpfs when there is room (initdb on a disk file system
 * costs twice the CPU, most of it file system work), else the run's folder.
 */
async function pgScratch(env: CheckEnv): Promise<string> {
  try {
    const st = await fs.statfs('/dev/shm');
    if (st.type === 0x01021994 && st.bavail * st.bsize >= 512 * 2 ** 20) {
      // named after the run's folder, so a leftover can be traced to its run
      const d = await fs.mkdtemp(`/dev/shm/ha-gen-pg-${path.basename(env.tmp)}-`);
      await fs.chmod(d, 0o755);
      return d;
    }
  } catch {
    /* no tmpfs there */
  }
  return path.join(env.tmp, 'pg');
}

function pgCluster(env: CheckEnv): Promise<PgCluster> {
  return once(env, 'pg', () => inSlot(env, 'sql', async () => {
    const dir = await pgScratch(env);
    try {
      return await startPg(env, dir);
    } catch (err) {
      if (!dir.startsWith(env.tmp)) await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }));
}

/**
 * Immediate shutdown: SIGQUIT to the postmaster, which removes postmaster.pid as it exits (what
 * `pg_ctl -m immediate -w stop` does, but pg_ctl looks for the file every 100 ms, this every 5).
 * Synchronous, so an interrupted run can use it on its way out. True when the server is gone.
 */
function quitPg(data: string, waitMs = 2000): boolean {
  const pidFile = path.join(data, 'postmaster.pid');
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 1) process.kill(pid, 'SIGQUIT');
  } catch {
    /* no server, or not ours to signal: the caller decides */
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < waitMs / 5 && existsSync(pidFile); i++) Atomics.wait(pause, 0, 0, 5);
  return !existsSync(pidFile);
}

async function startPg(env: CheckEnv, dir: string): Promise<PgCluster> {
  const bin = pgBinDir()!;
  const data = path.join(dir, 'data');
  // Ctrl+C mid-run: the server (pg_ctl daemonises it, so no child of ours) must not outlive us.
  const offInterrupt = onInterrupt(() => {
    quitPg(data);
    if (!dir.startsWith(env.tmp)) rmSync(dir, { recursive: true, force: true });
  });
  try {
    return await startPgServer(env, dir, bin, data, offInterrupt);
  } catch (err) {
    offInterrupt();
    throw err;
  }
}

async function startPgServer(env: CheckEnv, dir: string, bin: string, data: string, offInterrupt: () => void): Promise<PgCluster> {
  await fs.mkdir(dir, { recursive: true });
  const c = await certs(env);
  await fs.copyFile(c.cert, path.join(dir, 'server.crt'));
  await fs.copyFile(c.key, path.join(dir, 'server.key'));
  await fs.chmod(path.join(dir, 'server.key'), 0o600);
  const hbaPath = path.join(dir, 'hba_check.conf');
  const trusted = path.join(dir, 'hba_trusted.conf');
  await fs.writeFile(trusted, 'local all all trust\n');
  await fs.copyFile(trusted, hbaPath);
  if (isRoot()) {
    const own = await exec('chown', ['-R', 'postgres:postgres', dir]);
    if (own.exitCode !== 0) throw new Error(`chown of the throwaway cluster's folder failed: ${own.all}`);
  }
  // cwd: the postgres user must be able to enter it (the caller's folder may be 0700).
  const run = (argv: string[], extra: object = {}) => exec(argv[0]!, argv.slice(1), { timeout: 30000, cwd: dir, ...extra });
  const init = await run(asPostgres([`${bin}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']));
  if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.all}`);
  const opts = [`-k ${dir}`, "-c listen_addresses=''", '-c port=5499', `-c hba_file=${hbaPath}`, '-c ssl=on', `-c ssl_cert_file=${dir}/server.crt`, `-c ssl_key_file=${dir}/server.key`, "-c synchronous_standby_names=''", '-c fsync=off', "-c archive_mode=off"].join(' ');
  const start = await run(asPostgres([`${bin}/pg_ctl`, '-D', data, '-l', `${dir}/log`, '-o', opts, '-w', '-t', '30', 'start']));
  if (start.exitCode !== 0) throw new Error(`throwaway PostgreSQL did not start: ${start.all} ${await fs.readFile(`${dir}/log`, 'utf8').catch(() => '')}`);
  // One psql at a time (sessions must not overlap: pg_hba checks swap the hba file), and each
  // short: no slot, or it would wait behind long programs.
  let chain: Promise<unknown> = Promise.resolve();
  const inChain = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn);
    chain = p.catch(() => undefined);
    return p;
  };
  const psqlArgv = [`${bin}/psql`, '-X', '-q', '-h', dir, '-p', '5499', '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1'];
  const psql = (args: string[], input: string) =>
    inChain(async () => {
      const r = await run([...psqlArgv, ...args], { input });
      return { exitCode: r.exitCode ?? 1, output: String(r.all ?? '') };
    });
  const psqlEach = (runs: Array<{ args: string[]; file: string }>) => inChain(() => runEach(path.join(env.tmp, 'psql'), runs.map((r) => ({ argv: [...psqlArgv, ...r.args], stdin: r.file })), { cwd: dir }));
  return {
    psql,
    psqlEach,
    hbaPath,
    async dispose() {
      const stopped = quitPg(data, 10_000);
      if (!stopped) await run(asPostgres([`${bin}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']));
      if (!dir.startsWith(env.tmp)) await fs.rm(dir, { recursive: true, force: true });
      offInterrupt();
    },
  };
}

const pgHba: Checker = {
  needs: ['postgres', 'initdb', 'pg_ctl', 'psql', 'openssl'],
  install: 'apt-get install postgresql',
  lane: 'self',
  async run(env, file) {
    const pg = await pgCluster(env);
    const text = await fs.readFile(fileIn(env, file), 'utf8');
    // One candidate file per checked file: checks of several pg_hba files share the cluster, and a
    // shared name let one check's write tear the file another session was copying in.
    const candidate = path.join(path.dirname(pg.hbaPath), `hba_candidate_${createHash('sha256').update(file).digest('hex').slice(0, 16)}.conf`);
    await fs.writeFile(candidate, text);
    await fs.chmod(candidate, 0o644);
    // One session: swap the candidate in, let the view re-read it, swap the trusted file back.
    const script = [
      `\\! cp ${candidate} ${pg.hbaPath}`,
      "SELECT 'line ' || line_number || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL;",
      `\\! printf 'local all all trust\\n' > ${pg.hbaPath}`,
    ].join('\n');
    const r = await pg.psql(['-t', '-A'], script);
    const errors = r.output.trim();
    if (r.exitCode !== 0) return { ok: false, message: errors };
    return errors ? { ok: false, message: errors } : { ok: true, message: 'pg_hba_file_rules: no errors' };
  },
};

const sql: Checker = {
  needs: ['postgres', 'initdb', 'pg_ctl', 'psql', 'openssl'],
  install: 'apt-get install postgresql',
  lane: 'self',
  async run(env, file) {
    // Every SQL file of the bundle, in bundle order, each its own psql session (see psqlEach).
    const all = await once(env, 'batch:sql', async () => {
      const pg = await pgCluster(env);
      const files = filesOf(env, 'sql');
      const texts = await Promise.all(files.map((f) => fs.readFile(fileIn(env, f), 'utf8').catch((err: Error) => err)));
      const readable = files.filter((_, i) => typeof texts[i] === 'string');
      // psql variables the file expects (:'name' or :"name") get harmless values.
      const varsOf = (text: string) => [...new Set([...text.matchAll(/:['"]([A-Za-z_][A-Za-z0-9_]*)['"]/g)].map((m) => m[1]!))].flatMap((v) => ['-v', `${v}=hagen_check_${v.toLowerCase()}`]);
      const runs = await pg.psqlEach(readable.map((f) => ({ args: varsOf(texts[files.indexOf(f)] as string), file: fileIn(env, f) })));
      return new Map(files.map((f, i) => [f, typeof texts[i] === 'string' ? runs[readable.indexOf(f)]! : (texts[i] as Error)]));
    });
    const r = all.get(file);
    if (!r || r instanceof Error) throw r ?? new Error('not in the SQL batch');
    return r.exitCode === 0 ? { ok: true, message: 'psql: ran without errors on a throwaway cluster' } : { ok: false, message: r.output };
  },
};

type ToolRun = { exitCode: number; output: string; timedOut: boolean };
interface BatchRun {
  r: ToolRun;
  /** bundle file -> the lines the tool printed for it */
  per: Map<string, string[]>;
  unattributed: string[];
}

/** The lines of one run over several files, each given to the file it starts with. */
function attribute(env: CheckEnv, files: string[], r: ToolRun): BatchRun {
  const lines = r.output.split('\n').filter((l) => l.trim());
  const per = new Map<string, string[]>(files.map((f) => [f, []]));
  const unattributed: string[] = [];
  for (const l of lines) {
    const f = files.find((x) => l.startsWith(`${fileIn(env, x)}:`));
    (f ? per.get(f)! : unattributed).push(l.replaceAll(`${env.bundleDir}/`, ''));
  }
  return { r, per, unattributed };
}

function verdict(all: BatchRun, file: string, okText: string): CheckOutcome {
  const mine = all.per.get(file) ?? [];
  if (all.r.timedOut) return { ok: false, message: 'timed out' };
  if (mine.length) return { ok: false, message: mine.join('\n') };
  // A failed run that named no file (the tool itself broke) fails every file, with its output.
  if (all.r.exitCode !== 0 && !all.per.size) return { ok: false, message: all.r.output || `exit code ${all.r.exitCode}` };
  if (all.r.exitCode !== 0 && all.unattributed.length && ![...all.per.values()].some((x) => x.length)) return { ok: false, message: all.unattributed.join('\n') };
  return { ok: true, message: okText };
}

const filesOf = (env: CheckEnv, tool: CheckTool) => Object.entries(env.manifest.files).filter(([, e]) => e.checks.some((c) => c.tool === tool)).map(([f]) => f);

/**
 * Tools that take many files per run (shellcheck, yamllint) check every file of their kind in one
 * process; each file's result is the lines the tool printed for that file.
 */
function batched(env: CheckEnv, tool: CheckTool, runAll: (files: string[]) => Promise<ToolRun>, okText: string) {
  return async (file: string): Promise<CheckOutcome> => {
    const all = await once(env, `batch:${tool}`, async () => {
      const files = filesOf(env, tool);
      return attribute(env, files, await inSlot(env, tool, () => runAll(files.map((f) => fileIn(env, f)))));
    });
    return verdict(all, file, okText);
  };
}

/** Could `source` or `.` a file: then its verdict depends on where it is, not only on its bytes. */
const MAY_SOURCE = /(^|[\s;&|({`])(source|\.)\s/m;

/**
 * shellcheck, as a batch (see batched) in two processes of about equal size, one per core (it is
 * the longest single program of a run). Identical scripts (the same backup script on every
 * database host) are checked once when the verdict can only depend on their bytes and name:
 * nothing sourced, and no shellcheckrc between them and the bundle's root (shellcheck reads the
 * nearest one); their copies get the same lines under their own path.
 */
async function shellcheckRuns(env: CheckEnv): Promise<Map<string, BatchRun>> {
  const files = filesOf(env, 'shell');
  const rcBetween = (abs: string) => {
    for (let d = path.dirname(abs); d.startsWith(env.bundleDir); d = path.dirname(d)) {
      if (existsSync(path.join(d, '.shellcheckrc')) || existsSync(path.join(d, 'shellcheckrc'))) return true;
      if (d === env.bundleDir) break;
    }
    return false;
  };
  const bytes = await Promise.all(files.map((f) => fs.readFile(fileIn(env, f)).catch(() => null)));
  const first = new Map<string, string>();
  const copies = new Map<string, string[]>();
  const size = new Map<string, number>();
  files.forEach((f, i) => {
    const b = bytes[i];
    const key = b && !MAY_SOURCE.test(b.toString('utf8')) && !rcBetween(fileIn(env, f)) ? `${path.basename(f)}:${createHash('sha256').update(b).digest('hex')}` : null;
    const rep = key ? first.get(key) : undefined;
    if (rep) return void copies.get(rep)!.push(f);
    if (key) first.set(key, f);
    copies.set(f, []);
    size.set(f, b?.length ?? 0);
  });
  const parts: string[][] = [[], []];
  const load = [0, 0];
  for (const f of [...size.keys()].sort((a, b) => size.get(b)! - size.get(a)!)) {
    const k = load[0]! <= load[1]! ? 0 : 1;
    parts[k]!.push(f);
    load[k]! += size.get(f)! + 2000; // + start-up, roughly a small script's worth
  }
  const out = new Map<string, BatchRun>();
  await Promise.all(
    parts.filter((p) => p.length).map(async (part) => {
      // -P SCRIPTDIR: `source` paths resolve beside each script, as they do when it runs.
      const r = await inSlot(env, 'shell', () => exec('shellcheck', ['-x', '-P', 'SCRIPTDIR', '-S', 'style', '-f', 'gcc', ...part.map((f) => fileIn(env, f))], { cwd: env.bundleDir, timeout: 60000 }));
      const lines = String(r.all ?? '').split('\n').flatMap((l) => {
        const rep = part.find((f) => l.startsWith(`${fileIn(env, f)}:`));
        return [l, ...(rep ? copies.get(rep)!.map((c) => fileIn(env, c) + l.slice(fileIn(env, rep).length)) : [])];
      });
      const members = part.flatMap((f) => [f, ...copies.get(f)!]);
      const run = attribute(env, members, { exitCode: r.exitCode ?? 1, output: lines.join('\n'), timedOut: !!r.timedOut });
      for (const f of members) out.set(f, run);
    }),
  );
  return out;
}

const shell: Checker = {
  needs: ['shellcheck'],
  install: 'apt-get install shellcheck',
  lane: 'self',
  async run(env, file) {
    const runs = await once(env, 'batch:shell', () => shellcheckRuns(env));
    const mine = runs.get(file);
    if (!mine) throw new Error('not in the shellcheck batch');
    return verdict(mine, file, 'shellcheck: clean');
  },
};

const YAMLLINT_CONFIG = '{extends: default, rules: {line-length: disable, document-start: disable, truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}, comments-indentation: disable}}';

const yaml: Checker = {
  needs: ['yamllint'],
  install: 'apt-get install yamllint',
  lane: 'self',
  async run(env, file) {
    return batched(env, 'yaml', async (files) => {
      const r = await exec('yamllint', ['-s', '-f', 'parsable', '-d', YAMLLINT_CONFIG, ...files], { timeout: 60000 });
      return { exitCode: r.exitCode ?? 1, output: String(r.all ?? ''), timedOut: !!r.timedOut };
    }, 'yamllint: clean')(file);
  },
};

const json: Checker = {
  needs: [],
  install: '',
  lane: 'self', // no program
  async run(env, file) {
    try {
      JSON.parse(await fs.readFile(fileIn(env, file), 'utf8'));
      return { ok: true, message: 'valid JSON' };
    } catch (err) {
      return { ok: false, message: (err as Error).message };
    }
  },
};

export const CHECKERS: Record<CheckTool, Checker> = {
  keepalived,
  nft,
  nginx,
  haproxy,
  caddy,
  compose,
  stack,
  'pg-conf': pgConf,
  'pg-hba': pgHba,
  sql,
  shell,
  yaml,
  json,
  patroni: patroniChecker,
  etcd: etcdChecker,
  systemd: systemdChecker,
  k6: k6Checker,
  pgbackrest: pgbackrestChecker,
  x509: x509Checker,
  'promtool-config': promtoolConfig,
  'promtool-rules': promtoolRules,
  'promtool-test': promtoolTest,
  amtool,
  blackbox,
};
