/**
 * Checkers for Patroni and etcd files. Both tools insist on the network: Patroni's validator
 * connects to the etcd hosts and wants its own ports free, etcd binds its URLs. So each runs in a
 * private network namespace (`unshare -n` inside the usual mount namespace) where the addresses a
 * file names are put on the loopback device, with throwaway listeners standing in for etcd.
 */
import { execa } from 'execa';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Checker, CheckEnv, CheckOutcome } from './checkers.js';
import { pgBinDir } from './checkers.js';
import { runIsolated } from './sandbox.js';

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const isIpv4 = (a: string) => /^[0-9]+(?:\.[0-9]+){3}$/.test(a);
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

/** A Python one-liner holding TCP listeners open (stand-ins for etcd) until killed. */
function listeners(endpoints: Array<[string, number]>): string {
  // Names resolve to 127.0.0.1 in the sandbox: one listener per distinct address and port.
  const addrs = [...new Set(endpoints.map(([h, p]) => `(${JSON.stringify(isIpv4(h) ? h : '127.0.0.1')},${p})`))].join(',');
  const py = `import socket,time\nss=[]\nfor a in [${addrs}]:\n s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(a);s.listen(16);ss.append(s)\ntime.sleep(60)`;
  return `/usr/bin/python3 -c ${q(py)} & lp=$!; sleep 0.3`;
}

export const patroniChecker: Checker = {
  needs: ['patroni', 'postgres', 'ip', 'python3'],
  install: 'apt-get install patroni postgresql iproute2',
  async run(env, file) {
    const text = await fs.readFile(path.join(env.bundleDir, file), 'utf8');
    const doc = parseYaml(text) as Record<string, any>;
    const pg = pgBinDir();
    if (!pg) return { ok: false, message: 'no PostgreSQL server binaries found', skipped: true };
    // The bundle's PostgreSQL major may not be the one installed here: point at the installed one.
    const copyText = text.replace(/\/usr\/lib\/postgresql\/[0-9]+\/bin/g, pg);
    const copy = path.join(env.tmp, 'patroni', file.replaceAll('/', '_'));
    await fs.mkdir(path.dirname(copy), { recursive: true });
    await fs.writeFile(copy, copyText);
    const dcs = doc.etcd3 ?? doc.etcd;
    const hosts: string[] = Array.isArray(dcs?.hosts) ? dcs.hosts : typeof dcs?.hosts === 'string' ? dcs.hosts.split(',') : dcs?.host ? [dcs.host] : [];
    const etcd = hosts.map(hostPort);
    const own = [doc.restapi?.listen, doc.postgresql?.listen].filter(Boolean).map((s: string) => hostPort(s)[0]);
    const script = [
      ...netSetup([...etcd.map(([h]) => h), ...own]),
      `mount -t tmpfs tmpfs /var/lib/postgresql 2>/dev/null || true`,
      listeners(etcd),
      `/usr/bin/python3 /usr/bin/patroni --validate-config ${q(copy)}; rc=$?`,
      'kill $lp 2>/dev/null; exit $rc',
    ].join('\n');
    const r = await runIsolated(env.sandbox, ['unshare', '-n', 'sh', '-c', script], { env: dummyEnv(env), timeoutMs: 30000 });
    if (r.exitCode !== 0 || r.output.trim()) return { ok: false, message: `patroni --validate-config: ${r.output || `exit code ${r.exitCode}`}` };
    // Patroni does not check PostgreSQL settings: postgres -C does, from a file made of them.
    const params = { ...(doc.bootstrap?.dcs?.postgresql?.parameters ?? {}), ...(doc.postgresql?.parameters ?? {}) } as Record<string, unknown>;
    const conf = path.join(env.tmp, 'patroni', `${path.basename(copy)}.conf`);
    const empty = path.join(env.tmp, 'patroni', 'empty');
    await fs.mkdir(empty, { recursive: true });
    await fs.writeFile(conf, Object.entries(params).map(([k, v]) => `${k} = '${String(v).replace(/'/g, "''")}'`).join('\n') + '\n');
    const c = await execa(`${pg}/postgres`, ['-C', 'wal_level', '-c', `config_file=${conf}`, '-D', empty], { reject: false, all: true, timeout: 10000 });
    const out = String(c.all ?? '');
    if (c.exitCode !== 0 || /FATAL|ERROR|unrecognized/i.test(out)) return { ok: false, message: `postgresql.parameters rejected by postgres -C: ${out}` };
    return { ok: true, message: `patroni --validate-config: valid; ${Object.keys(params).length} postgresql.parameters accepted by postgres -C` };
  },
};

let etcdFlags: Promise<Set<string>> | undefined;
/** Config-file keys etcd knows: its command-line flags (`etcd --help`), which the file mirrors. */
function knownEtcdKeys(): Promise<Set<string>> {
  // enable-grpc-gateway is read from config files but not listed by `etcd --help` (3.4).
  etcdFlags ??= execa('etcd', ['--help'], { reject: false, all: true }).then((r) => new Set([...[...String(r.all ?? '').matchAll(/^\s+--([a-z0-9-]+)/gm)].map((m) => m[1]!), 'enable-grpc-gateway']));
  return etcdFlags;
}

export const etcdChecker: Checker = {
  needs: ['etcd', 'ip', 'curl'],
  install: 'apt-get install etcd-server iproute2 curl',
  async run(env, file): Promise<CheckOutcome> {
    const text = await fs.readFile(path.join(env.bundleDir, file), 'utf8');
    const doc = parseYaml(text) as Record<string, unknown>;
    const known = await knownEtcdKeys();
    if (!known.size) return { ok: false, message: 'could not read the flags of `etcd --help`' };
    const unknown = Object.keys(doc).filter((k) => !known.has(k));
    if (unknown.length) return { ok: false, message: `unknown etcd setting(s): ${unknown.join(', ')} (etcd ignores them silently)` };
    // Start it for real with a throwaway data dir: bad URLs or values fail at once.
    const dir = path.join(env.tmp, 'etcd', file.replaceAll('/', '_'));
    await fs.mkdir(dir, { recursive: true });
    const copy = path.join(dir, 'etcd.conf.yml');
    await fs.writeFile(copy, text.replace(/^data-dir:.*$/m, `data-dir: ${dir}/data`));
    const urls = String(doc['listen-client-urls'] ?? '').split(',').filter(Boolean);
    const addrs = [...urls, String(doc['listen-peer-urls'] ?? '')].map((u) => u.replace(/^https?:\/\//, '').replace(/:[0-9]+$/, ''));
    const probe = (urls[0] ?? 'http://127.0.0.1:2379').replace('0.0.0.0', '127.0.0.1');
    const script = [
      ...netSetup(addrs),
      `etcd --config-file ${q(copy)} > ${q(dir)}/log 2>&1 & ep=$!`,
      'ok=1',
      // A lone member of a larger cluster serves no requests before it has quorum, but its client
      // port accepts connections (curl: 0 answered, 28 timed out, 52 empty reply); a bad file exits.
      `for i in $(seq 1 40); do curl -s -m 0.2 -o /dev/null ${q(`${probe}/version`)}; rc=$?; if [ $rc = 0 ] || [ $rc = 28 ] || [ $rc = 52 ]; then ok=0; break; fi; kill -0 $ep 2>/dev/null || break; sleep 0.05; done`,
      'sleep 0.2; kill -0 $ep 2>/dev/null || ok=1',
      'kill -9 $ep 2>/dev/null; wait $ep 2>/dev/null',
      `[ $ok = 0 ] || { tail -n 5 ${q(dir)}/log; exit 1; }`,
    ].join('\n');
    const r = await runIsolated(env.sandbox, ['unshare', '-n', 'sh', '-c', script], { timeoutMs: 20000 });
    if (r.exitCode !== 0) return { ok: false, message: `etcd did not start with this file: ${r.output}` };
    return { ok: true, message: 'etcd: known settings; started and listened on its client URL' };
  },
};
