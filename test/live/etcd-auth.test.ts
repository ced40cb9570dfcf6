/**
 * Live (issue 14): the etcd takeover replayed against the generated multi-server hosts bundle. An
 * unauthenticated PUT of Patroni's leader key from an app host once left every member following a
 * leader "attacker". Here the bundle (`ha-gen init --yes --tier multi-server --platform hosts`, lab
 * addresses) is deployed onto whole-host lab hosts as its deploy.sh does it (the recorded deploy:
 * its files, pki/ certificates with their owners and modes, EnvironmentFiles), one database host
 * after the other: etcd and Patroni from their own units, then deploy.sh's after-commands (the
 * etcd-auth step). The firewall unit is NOT started: the refusal must come from etcd itself (the
 * firewall has its own test). From the app host, with curl and etcdctl from the Debian packages:
 * plain HTTP, HTTPS without a certificate, with a certificate of another CA, and with a stolen
 * certificate of the bundle's CA but no password (v2 and v3). Each must be refused, and the leader
 * key and Patroni's leader must be unchanged. Also measured: how long etcd takes to form with TLS.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ensureBuilt } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { labRequirements } from '../lab/requirements.js';
import { createLab, waitUntil, type HostProcess, type Lab } from '../lab/lab.js';
import { PATRONI_CA, deployRecord, installDeployed, userBundle, type Bundle, type Deployed } from './harness/whole-host.js';
import { startUnitOnHost } from './harness/lab-units.js';

const lab0 = labRequirements('live etcd authentication');
const tools = lab0.skip ? lab0 : skipUnlessTool(['etcd', 'etcdctl', 'patroni', 'curl', 'openssl', 'tar'], 'live etcd authentication');
const SKIP = lab0.skip || tools.skip;

describe.skipIf(SKIP)('live: etcd of the generated hosts bundle refuses an unauthenticated write of the leader key', { timeout: 900_000 }, () => {
  let work = '';
  let bundle: Bundle;
  let lab: Lab;
  let scope = '';
  let app = '';
  const db: Array<{ name: string; address: string }> = [];
  const deployed = new Map<string, Deployed>();
  const procs: HostProcess[] = [];
  const authOut: Array<{ host: string; code: number; out: string; ms: number }> = [];
  const figures: Record<string, number> = {};

  const etcdUrl = (h: { address: string }, scheme = 'https') => `${scheme}://${h.address}:2379`;
  const leaderPath = () => `/v2/keys/service/${scope}/leader`;
  const hostTls = ['--cacert', '/etc/etcd/pki/ca.crt', '--cert', '/etc/etcd/pki/host.crt', '--key', '/etc/etcd/pki/host.key'];

  /** The v2 leader key as root reads it on a database host (value, modifiedIndex). */
  async function leaderKey(): Promise<{ value: string; index: number }> {
    const r = await lab.exec(db[0]!.name, ['curl', '-sS', '--max-time', '3', ...hostTls, '-K', '-'], { input: `url = "${etcdUrl(db[0]!)}${leaderPath()}"\nuser = "root:${bundle.env.ETCD_ROOT_PASSWORD}"\n` });
    const node = (JSON.parse(r.stdout) as { node?: { value: string; modifiedIndex: number } }).node;
    if (!node) throw new Error(`no leader key: ${r.stdout}${r.stderr}`);
    return { value: node.value, index: node.modifiedIndex };
  }

  async function patroniCluster(): Promise<Array<{ name: string; role: string; state: string }> | null> {
    for (const h of db) {
      const r = await lab.http(h.name, `https://${h.address}:8008/cluster`, { timeoutMs: 1000, ca: PATRONI_CA });
      if (r.ok && r.status === 200) return (JSON.parse(r.body!) as { members: Array<{ name: string; role: string; state: string }> }).members;
    }
    return null;
  }

  beforeAll(async () => {
    ensureBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-etcd-auth-'));
    await fs.chmod(work, 0o755);
    bundle = await userBundle(work);
    scope = (parseYaml(await fs.readFile(path.join(work, 'ha-gen.yaml'), 'utf8')) as { name: string }).name;
    for (const h of bundle.hosts) if (h.services.some((s) => s.kind === 'db' || s.kind === 'etcd')) db.push({ name: h.name, address: h.address });
    app = bundle.hosts.find((h) => h.services.some((s) => s.kind === 'app') && !h.services.some((s) => s.kind === 'db' || s.kind === 'etcd'))!.name;
    expect(db.length).toBe(3);
    // deploy.sh's order (db hosts first: etcd starts before anything needs it)
    db.sort((a, b) => bundle.order.indexOf(a.name) - bundle.order.indexOf(b.name));
    lab = await createLab({ hosts: [...db, { name: app, address: bundle.hosts.find((h) => h.name === app)!.address }], powerOn: false });
    for (const name of lab.hostNames) await lab.powerOn(name);
    const spool = path.join(work, 'spool');
    for (const h of db) {
      const d = await deployRecord(bundle, h.name, spool);
      deployed.set(h.name, d);
      await installDeployed(lab, h.name, d);
    }
    if ((await fs.readdir('/dev')).some((d) => /^watchdog/.test(d))) throw new Error('this machine has a watchdog device; Patroni (watchdog automatic) must not arm it: run this test where /dev/watchdog is absent, or mask it as whole-host.ts does');
  }, 300_000);

  afterAll(async () => {
    console.log(`\netcd authentication (live): ${JSON.stringify(figures)}\n${authOut.map((a) => `  etcd-auth on ${a.host} (exit ${a.code}, ${a.ms} ms): ${a.out.trim().replace(/\n/g, ' | ')}`).join('\n')}\n`);
    for (const p of procs) await p.stop('SIGTERM', 5000).catch(() => undefined);
    await lab?.close();
    if (work) await fs.rm(work, { recursive: true, force: true });
  }, 120_000);

  it('deploy.sh installs the pki/ files with the owners and modes the services need, and no key is readable by others', () => {
    for (const h of db) {
      const d = deployed.get(h.name)!;
      expect(d.modes.get('/etc/etcd/pki/host.key')).toEqual({ owner: 'etcd', mode: 0o600 });
      expect(d.modes.get('/etc/patroni/pki/host.key')).toEqual({ owner: 'postgres', mode: 0o600 });
      expect(d.modes.get('/etc/etcd/pki/ca.crt')?.mode).toBe(0o644);
      expect([...d.files.keys()].some((p) => p.endsWith('ca.key'))).toBe(false);
      // deploy.sh runs the etcd-auth step after the host's units
      expect(d.after.some((c) => c.endsWith(`${scope}-etcd-auth`))).toBe(true);
    }
  });

  it('etcd forms over TLS one host at a time as deploy.sh deploys them; the etcd-auth step waits for a majority, then turns authentication on', async () => {
    let firstStart = 0;
    let thirdStarted = 0;
    for (const [i, h] of db.entries()) {
      const d = deployed.get(h.name)!;
      const started = Date.now();
      thirdStarted = started;
      if (!i) firstStart = started;
      for (const unit of d.units.filter((u) => u === 'etcd' || u === 'patroni')) {
        const s = await startUnitOnHost(lab, h.name, unit);
        procs.push(s.proc);
        await s.ready;
      }
      if (i === 1) {
        // two of three: a majority, over TLS (the member's own certificate, from its own host)
        await waitUntil('etcd healthy over TLS with two members', async () => (await lab.exec(h.name, ['curl', '-sS', '--max-time', '2', ...hostTls, `${etcdUrl(h)}/health`])).stdout.includes('"health":"true"'), 60_000, 100);
        figures.etcdMajorityAfterSecondStartS = (Date.now() - started) / 1000;
      }
      // deploy.sh's other remote commands (the firewall's rollback timer) need systemd: not run in the lab
      for (const c of d.after.filter((x) => x.endsWith(`${scope}-etcd-auth`))) {
        const t = Date.now();
        const r = await lab.exec(h.name, ['sh', '-c', c], { timeoutMs: 60_000 });
        authOut.push({ host: h.name, code: r.code ?? -1, out: r.stdout + r.stderr, ms: Date.now() - t });
        expect(r.code, `${h.name}: ${c}: ${r.stdout}${r.stderr}`).toBe(0);
      }
    }
    await waitUntil('all three etcd members healthy over TLS', async () => {
      const r = await lab.exec(db[0]!.name, ['etcdctl', '--endpoints', db.map((h) => etcdUrl(h)).join(','), '--cacert', '/etc/etcd/pki/ca.crt', '--cert', '/etc/etcd/pki/host.crt', '--key', '/etc/etcd/pki/host.key', 'endpoint', 'health'], { env: { ETCDCTL_API: '3' }, timeoutMs: 10_000 });
      return r.code === 0 && (r.stdout + r.stderr).split('is healthy').length - 1 === 3;
    }, 60_000, 250);
    figures.etcdAllHealthyFromFirstStartS = (Date.now() - firstStart) / 1000;
    figures.etcdAllHealthyAfterThirdStartS = (Date.now() - thirdStarted) / 1000;
    // db1 alone had no majority: it said so and went on; the next host turned authentication on; the last found it on.
    expect(authOut[0]!.out).toMatch(/no majority yet/);
    expect(authOut[1]!.out).toMatch(/v2 authentication turned on/);
    expect(authOut[1]!.out).toMatch(/v3 authentication turned on/);
    expect(authOut[1]!.out).toMatch(/guest role may no longer/);
    expect(authOut[2]!.out).toMatch(/v2 authentication already on/);
    for (const a of authOut.slice(1)) expect(a.out).toMatch(/a v2 write without a user is refused[\s\S]*a v3 write without a user is refused/);
  });

  it('Patroni, authenticated (https, its client certificate, user patroni), elects a leader and every member runs', async () => {
    const t = Date.now();
    const members = await waitUntil('a Patroni leader and three running members', async () => {
      const m = await patroniCluster();
      return m && m.length === 3 && m.filter((x) => x.role === 'leader' && x.state === 'running').length === 1 && m.every((x) => x.state === 'running' || x.state === 'streaming') ? m : null;
    }, 240_000, 500);
    figures.patroniLeaderAfterAuthS = (Date.now() - t) / 1000;
    const key = await leaderKey();
    expect(key.value).toBe(members.find((m) => m.role === 'leader')!.name);
  });

  it('from the app host, an unauthenticated PUT of the leader key is refused every way, and the leader is unchanged', async () => {
    const before = await leaderKey();
    const leaderBefore = (await patroniCluster())!.find((m) => m.role === 'leader')!.name;
    const target = db[0]!;
    const put = (scheme: string, extra: string[]) => lab.exec(app, ['curl', '-sS', '--max-time', '5', ...extra, '-X', 'PUT', `${etcdUrl(target, scheme)}${leaderPath()}`, '-d', 'value=attacker', '-w', '\nHTTP %{http_code}\n'], { timeoutMs: 10_000 });
    const attempts: Record<string, { code: number | null; out: string }> = {};
    const record = (what: string, r: { code: number | null; stdout: string; stderr: string }) => {
      attempts[what] = { code: r.code, out: `${r.stdout}${r.stderr}`.trim().slice(0, 300) };
      return attempts[what]!;
    };
    // 1. plain HTTP to the TLS port
    const plain = record('plain http', await put('http', []));
    expect(plain.out).not.toMatch(/"action":"set"/);
    expect(plain.code).not.toBe(0);
    // 2. HTTPS without a client certificate (server not verified either: an attacker has no CA)
    const noCert = record('https, no client certificate', await put('https', ['-k']));
    expect(noCert.out).not.toMatch(/"action":"set"/);
    expect(noCert.code).not.toBe(0);
    // 3. HTTPS with a certificate of the attacker's own CA
    const mk = await lab.exec(app, ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=root', '-keyout', '/tmp/evil.key', '-out', '/tmp/evil.crt']);
    expect(mk.code, mk.stderr).toBe(0);
    const evil = record('https, certificate of another CA (CN=root)', await put('https', ['-k', '--cert', '/tmp/evil.crt', '--key', '/tmp/evil.key']));
    expect(evil.out).not.toMatch(/"action":"set"/);
    expect(evil.code).not.toBe(0);
    // 4. a certificate of the bundle's CA (stolen from a database host), but no user: refused by etcd's RBAC
    for (const f of ['ca.crt', `${target.name}.crt`, `${target.name}.key`]) await lab.writeFile(app, `/tmp/stolen/${f}`, await fs.readFile(path.join(bundle.out, 'pki', f)), { mode: 0o600 });
    const stolen = ['--cacert', '/tmp/stolen/ca.crt', '--cert', `/tmp/stolen/${target.name}.crt`, '--key', `/tmp/stolen/${target.name}.key`];
    const v2 = record('https v2, stolen certificate of the CA, no user', await put('https', stolen));
    expect(v2.out).toMatch(/"errorCode":110/);
    expect(v2.out).toMatch(/HTTP 401/);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const v3 = record('https v3 gateway, stolen certificate, no user', await lab.exec(app, ['curl', '-sS', '--max-time', '5', ...stolen, '-X', 'POST', `${etcdUrl(target)}/v3/kv/put`, '-d', JSON.stringify({ key: b64(`/service/${scope}/leader`), value: b64('attacker') }), '-w', '\nHTTP %{http_code}\n'], { timeoutMs: 10_000 }));
    // refused: with v3 authentication on (or, where etcd serves no gateway for it, not found)
    expect(v3.out).not.toMatch(/HTTP 200/);
    // 5. etcdctl (v3), no certificate, then the stolen one
    const ctl3 = record('etcdctl v3, no certificate', await lab.exec(app, ['etcdctl', '--endpoints', etcdUrl(target), '--insecure-transport=false', '--insecure-skip-tls-verify', '--dial-timeout', '3s', 'put', `/service/${scope}/leader`, 'attacker'], { env: { ETCDCTL_API: '3' }, timeoutMs: 15_000 }));
    expect(ctl3.code).not.toBe(0);
    const ctl3s = record('etcdctl v3, stolen certificate, no user', await lab.exec(app, ['etcdctl', '--endpoints', etcdUrl(target), ...stolen, '--dial-timeout', '3s', 'put', `/service/${scope}/leader`, 'attacker'], { env: { ETCDCTL_API: '3' }, timeoutMs: 15_000 }));
    expect(ctl3s.code).not.toBe(0);
    // 6. the v2 API with etcdctl's v2 mode: the leader key itself
    const ctl2 = record('etcdctl v2, stolen certificate, no user', await lab.exec(app, ['etcdctl', '--endpoints', etcdUrl(target), '--ca-file', '/tmp/stolen/ca.crt', '--cert-file', `/tmp/stolen/${target.name}.crt`, '--key-file', `/tmp/stolen/${target.name}.key`, 'set', `/service/${scope}/leader`, 'attacker'], { env: { ETCDCTL_API: '2' }, timeoutMs: 15_000 }));
    expect(ctl2.code).not.toBe(0);
    figures.refusedAttempts = Object.keys(attempts).length;
    console.log(`attempts from ${app}:\n${Object.entries(attempts).map(([k, v]) => `  ${k}: exit ${v.code}: ${v.out.replace(/\s+/g, ' ')}`).join('\n')}`);

    // the leader key and Patroni's leader: unchanged, now and a few loops later
    const after = await leaderKey();
    expect(after.value).toBe(before.value);
    await new Promise((r) => setTimeout(r, 5000));
    const m = (await patroniCluster())!;
    expect(m.find((x) => x.role === 'leader')?.name).toBe(leaderBefore);
    expect(m.filter((x) => x.role === 'leader')).toHaveLength(1);
    expect((await leaderKey()).value).toBe(leaderBefore);
  });
});
