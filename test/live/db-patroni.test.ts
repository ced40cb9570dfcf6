/**
 * Live: Patroni + etcd + the DB HAProxy from the generated hosts bundle (3 etcd, 3 Patroni members
 * on 127.0.0.31-33, the endpoint on 127.0.0.30). A writer inserts through the endpoint and records
 * every acknowledged row; then, one at a time, the leader's Patroni is killed, hung (SIGSTOP, later
 * SIGCONT) and its postmaster killed. Writes must resume within 15 s (kill, hang) and, with
 * synchronous: true, no acknowledged row may be missing. Repeats: HA_GEN_DB_FAULT_REPEATS (default 2).
 * Before that: the REST API answers HTTPS only (verified against the bundle's CA), refuses a switchover
 * without a client certificate (403) or password (401), and the endpoint's checks of it are TLS.
 * HA_GEN_DB_TIMING=stock runs Patroni's stock timing instead (for scripts/bench-failover.sh).
 */
import * as fs from 'node:fs/promises';
import https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { sleep, waitFor, type Proc } from './harness/common.js';
import { Writer, clusterState, labSpec, parseEnvFile, postmasterPid, prepareHost, psql, restGet, restRequest, runInHost, startUnit, summarize, trustBundleCa, waitSettled, type LabHost } from './harness/db.js';

const tools = skipUnlessTool(['patroni', 'etcd', 'haproxy', 'psql', 'postgres', 'unshare', 'setpriv', 'mount'], 'live Patroni tests');
const isRoot = process.getuid?.() === 0;
if (!tools.skip && !isRoot) {
  if (process.env.HA_GEN_REQUIRE_TOOLS === '1') throw new Error('live Patroni tests need root (unshare -m, mounts)');
  console.warn('\n*** live Patroni tests: SKIPPED because they need root (unshare -m and mounts) ***\n');
}

const REPEATS = Math.max(1, Math.min(10, Number(process.env.HA_GEN_DB_FAULT_REPEATS ?? 2)));
const STOCK = process.env.HA_GEN_DB_TIMING === 'stock';
const DATA_REL = '15/home-registry';
const DB = ['db1', 'db2', 'db3'];
const RESULT_FILE = process.env.HA_GEN_DB_RESULT_FILE;

describe.skipIf(tools.skip || !isRoot)('live: Patroni failover through the generated endpoint', { timeout: 900_000 }, () => {
  let work = '';
  let env: Record<string, string> = {};
  const hosts = new Map<string, LabHost>();
  const etcd = new Map<string, Proc>();
  const patroni = new Map<string, Proc>();
  let haproxy: Proc | null = null;
  let bundleDir = '';
  const addresses = ['127.0.0.31', '127.0.0.32', '127.0.0.33'];
  const endpoint = () => `host=127.0.0.30 port=5000 user=app dbname=home_inventory`;
  const results: Record<string, number[]> = { kill: [], hang: [], postmaster: [] };
  const lost: Record<string, number[]> = { kill: [], hang: [], postmaster: [] };

  const startPatroni = (name: string) => {
    const p = startUnit(hosts.get(name)!, 'patroni.service', env, 'patroni');
    patroni.set(name, p);
    return p;
  };

  beforeAll(async () => {
    ensureBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-db-live-'));
    await fs.chmod(work, 0o755);
    await fs.writeFile(path.join(work, 'ha-gen.yaml'), labSpec({ ha: 'patroni', synchronous: true }));
    const r = await runCli(['generate', '--out', 'bundle', '--force'], { cwd: work });
    expect(r.code, r.output).toBe(0);
    const bundle = path.join(work, 'bundle');
    env = parseEnvFile(await fs.readFile(path.join(bundle, '.env'), 'utf8'));
    bundleDir = bundle;
    // The REST API is HTTPS with the members' certificates of the bundle's CA: the harness verifies it.
    trustBundleCa(bundle);
    for (const n of [...DB, 'lb1']) hosts.set(n, await prepareHost(bundle, path.join(work, 'hosts'), n, 'patroni'));
    if (STOCK) {
      for (const n of DB) {
        const f = path.join(hosts.get(n)!.root, 'etc/patroni/patroni.yml');
        const t = (await fs.readFile(f, 'utf8')).replace(/^(\s+)ttl: 10$/m, '$1ttl: 30').replace(/^(\s+)loop_wait: 2$/m, '$1loop_wait: 10').replace(/^(\s+)retry_timeout: 4$/m, '$1retry_timeout: 10');
        await fs.writeFile(f, t);
      }
    }
    for (const n of DB) etcd.set(n, startUnit(hosts.get(n)!, 'etcd.service', {}, 'etcd'));
    // etcd's plain read-only metrics port answers /health (the client port wants a certificate of the bundle's CA).
    await waitFor('etcd quorum', async () => (await fetch('http://127.0.0.31:2381/health', { signal: AbortSignal.timeout(1000) }).then((x) => x.json()).catch(() => null))?.health === 'true', 30_000, 200);
    startPatroni('db1');
    await waitFor('db1 to lead', async () => (await restGet('127.0.0.31', '/primary'))?.status === 200, 60_000, 250);
    startPatroni('db2');
    startPatroni('db3');
    await waitSettled(addresses, 3, 90_000).catch(async (e) => {
      for (const [n, p] of patroni) console.error(`--- ${n} patroni:\n${(p.out + p.err).split('\n').slice(-25).join('\n')}`);
      console.error(JSON.stringify(await clusterState(addresses)));
      throw e;
    });
    haproxy = startUnit(hosts.get('lb1')!, 'haproxy-db.service', env, 'haproxy-db');
    await waitFor('the endpoint to take writes', async () => (await psql(endpoint(), 'CREATE TABLE IF NOT EXISTS acked (id int PRIMARY KEY)', env.APP_DB_PASSWORD!)).ok, 20_000, 250);
  }, 240_000);

  afterAll(async () => {
    for (const p of patroni.values()) p.signal('SIGCONT');
    await haproxy?.stop();
    await Promise.all([...patroni.values()].map((p) => p.stop('SIGTERM', 15_000)));
    // Patroni stops PostgreSQL on SIGTERM; a postmaster left behind (a killed Patroni) is stopped by its pid file.
    for (const h of hosts.values()) {
      try {
        process.kill(postmasterPid(h, DATA_REL), 'SIGQUIT');
      } catch {
        /* not running */
      }
    }
    await Promise.all([...etcd.values()].map((p) => p.stop()));
    const lines = Object.entries(results).map(([k, v]) => `  ${k.padEnd(10)} writes resume after ${summarize(v)} (min/median/max, ${v.length} runs); acknowledged writes lost: ${lost[k]!.join(', ') || 'n/a'}`);
    console.log(`\nPatroni failover (${STOCK ? 'stock timing ttl 30 / loop_wait 10 / retry_timeout 10' : 'ha-gen timing ttl 10 / loop_wait 2 / retry_timeout 4'}, synchronous, etcd v2 API):\n${lines.join('\n')}\n`);
    if (RESULT_FILE) await fs.writeFile(RESULT_FILE, JSON.stringify({ stock: STOCK, results, lost }));
    if (work) await fs.rm(work, { recursive: true, force: true });
  }, 120_000);

  /** One leader, and both standbys streaming from it (pg_stat_replication on the leader, as the superuser). */
  async function settled(timeoutMs = 120_000): Promise<string> {
    const leader = await waitSettled(addresses, 3, timeoutMs, { sync: true });
    const su = `host=127.0.0.30 port=5000 user=${env.PATRONI_SUPERUSER_USERNAME} dbname=postgres`;
    await waitFor('both standbys streaming from the leader', async () => (await psql(su, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", env.PATRONI_SUPERUSER_PASSWORD!)).out === '2', timeoutMs, 500).catch(async (e) => {
      console.error(`not settled: ${JSON.stringify(await clusterState(addresses))}`);
      for (const [n, q] of patroni) console.error(`--- ${n} patroni:\n${(q.out + q.err).split('\n').filter((l) => !l.includes('no action')).slice(-20).join('\n')}`);
      throw e;
    });
    return leader;
  }

  async function episode(kind: 'kill' | 'hang' | 'postmaster'): Promise<void> {
    const leader = await settled();
    const w = new Writer(endpoint(), env.APP_DB_PASSWORD!, 'acked', 100);
    w.start(90_000);
    await sleep(2000);
    const t = Date.now();
    const p = patroni.get(leader)!;
    if (kind === 'kill') p.signal('SIGKILL');
    if (kind === 'hang') p.signal('SIGSTOP');
    if (kind === 'postmaster') process.kill(postmasterPid(hosts.get(leader)!, DATA_REL), 'SIGKILL');
    const rto = await waitFor('writes to resume', () => w.recoveryAfter(t) ?? null, 75_000, 200).catch(() => null);
    if (rto === null) {
      console.error(`writes did not resume after ${kind} of ${leader}; cluster: ${JSON.stringify(await clusterState(addresses))}`);
      for (const [n, q] of patroni) console.error(`--- ${n} patroni:\n${(q.out + q.err).split('\n').filter((l) => !/LOG: {2}(connection|disconnection)/.test(l)).slice(-30).join('\n')}`);
      console.error(`DCS: ${await fetch('http://127.0.0.31:2379/v2/keys/service/home-registry/?recursive=true').then((x) => x.text()).catch((e) => String(e))}`);
    }
    await sleep(2000);
    if (kind === 'hang') p.signal('SIGCONT');
    if (kind === 'kill') {
      await p.exited;
      startPatroni(leader);
    }
    await sleep(1500);
    await w.stop();
    await settled();
    // every acknowledged id must be on the leader now
    const r = await waitFor('the endpoint', async () => {
      const q = await psql(endpoint(), 'SELECT id FROM acked', env.APP_DB_PASSWORD!, 10_000);
      return q.ok ? q : null;
    }, 30_000, 500);
    const have = new Set(r.out.split('\n').filter(Boolean).map(Number));
    const missing = w.acked.filter((id) => !have.has(id)).length;
    lost[kind]!.push(missing);
    if (rto !== null) results[kind]!.push(rto);
    const members = await clusterState(addresses);
    console.log(`${kind} of ${leader}'s ${kind === 'postmaster' ? 'postmaster' : 'Patroni'}: writes resumed after ${rto?.toFixed(1) ?? 'never'} s; ${w.acked.length} acknowledged, ${missing} missing; leader now ${members?.find((m) => m.role === 'leader')?.name}`);
    await psql(endpoint(), 'TRUNCATE acked', env.APP_DB_PASSWORD!, 10_000);
    expect(rto, `writes did not resume after ${kind}`).not.toBeNull();
    expect(missing, `acknowledged writes lost after ${kind}`).toBe(0);
  }

  it('the REST API is HTTPS only, a change needs a client certificate and the password, and the endpoint checks it over TLS', async () => {
    const leader = await settled();
    const leaderAddr = hosts.get(leader)!.address;
    const figures: string[] = [];
    // plain HTTP to a member's REST API gets no HTTP answer (the socket speaks TLS only)
    for (const a of addresses) expect(await restRequest(a, '/cluster', { scheme: 'http' }), `plain HTTP answered on ${a}:8008`).toBeNull();
    figures.push('plain http://<member>:8008/cluster: no HTTP answer on all 3 members');
    // HTTPS verified against the bundle's CA, by address (the address is in the certificate)
    const t0 = performance.now();
    const ok = await restRequest(leaderAddr, '/cluster');
    figures.push(`https GET /cluster verified against pki/ca.crt: ${ok?.status} in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(ok?.status).toBe(200);
    // a client that does not trust the bundle's CA refuses the member (it is no public certificate)
    const untrusting = await new Promise<string>((resolve) => {
      const req = https.request(`https://${leaderAddr}:8008/cluster`, { agent: false, timeout: 1000 }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end();
    });
    figures.push(`https without the bundle's CA: ${untrusting}`);
    expect(untrusting).not.toMatch(/^HTTP/);
    // unsafe methods: no certificate -> 403; the CA's certificate but no or a wrong password -> 401
    const key = await fs.readFile(path.join(bundleDir, 'pki', `${leader}.key`));
    const cert = await fs.readFile(path.join(bundleDir, 'pki', `${leader}.crt`));
    const body = JSON.stringify({ leader });
    const sw = (o: { cert?: boolean; auth?: string }) =>
      restRequest(leaderAddr, '/switchover', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...(o.auth ? { authorization: `Basic ${Buffer.from(o.auth).toString('base64')}` } : {}) }, ...(o.cert ? { cert, key } : {}) });
    const noCert = await sw({});
    const noCertWithPassword = await sw({ auth: `${env.PATRONI_RESTAPI_USERNAME}:${env.PATRONI_RESTAPI_PASSWORD}` });
    const noPassword = await sw({ cert: true });
    const wrongPassword = await sw({ cert: true, auth: `${env.PATRONI_RESTAPI_USERNAME}:wrong` });
    figures.push(`unauthenticated POST /switchover: no certificate ${noCert?.status}, no certificate but the password ${noCertWithPassword?.status}, the CA's certificate without password ${noPassword?.status}, with a wrong password ${wrongPassword?.status}`);
    expect(noCert?.status).toBe(403);
    expect(noCertWithPassword?.status).toBe(403);
    expect(noPassword?.status).toBe(401);
    expect(wrongPassword?.status).toBe(401);
    expect((await clusterState(addresses))?.find((m) => m.role === 'leader')?.name, 'a refused switchover moved the leader').toBe(leader);
    // patronictl as RUNBOOK runs it (root, the Patroni unit's environment): its ctl section verifies
    // the member and shows the host's certificate, with the password: a harmless change (reload).
    const other = DB.find((n) => n !== leader)!;
    const ctl = await runInHost(hosts.get(leader)!, 'root', ['patronictl', '-c', '/etc/patroni/patroni.yml', 'reload', 'home-registry', other, '--force'], { ...env, PATRONI_ETCD_PROTOCOL: 'https' });
    figures.push(`patronictl reload ${other} (ctl: CA + certificate + password): ${ctl.trim().split('\n').pop()}`);
    expect(ctl).toMatch(/[Rr]eload request received/);
    // the endpoint's checks: TLS verified against the CA (HAProxy's stats: L7OK on the leader, an
    // HTTP status (L7STS, i.e. past the TLS handshake) on the others; a TLS failure would be L6*;
    // HAProxy prefixes '* ' while a check is running at the moment of the read)
    const cfg = await fs.readFile(path.join(hosts.get('lb1')!.root, 'etc/haproxy/haproxy-db.cfg'), 'utf8');
    expect(cfg).toMatch(/check-ssl verify required ca-file \S+/);
    const stats = /listen stats[\s\S]*?bind (\S+)/.exec(cfg)![1]!;
    const csv = await fetch(`http://${stats}/;csv`, { headers: { authorization: `Basic ${Buffer.from(`admin:${env.HAPROXY_STATS_PASSWORD}`).toString('base64')}` } }).then((r) => r.text());
    const [head, ...rows] = csv.replace(/^# /, '').trim().split('\n').map((l) => l.split(','));
    const col = (n: string) => head!.indexOf(n);
    const servers = rows.filter((r) => r[col('pxname')] === 'db_primary' && DB.includes(r[col('svname')]!)).map((r) => ({ name: r[col('svname')]!, status: r[col('status')]!, check: r[col('check_status')]!.replace(/^\* /, '') }));
    figures.push(`endpoint checks (db_primary): ${servers.map((x) => `${x.name} ${x.status} ${x.check}`).join(', ')}`);
    expect(servers).toHaveLength(3);
    expect(servers.find((x) => x.name === leader)).toMatchObject({ status: 'UP', check: 'L7OK' });
    for (const x of servers.filter((y) => y.name !== leader)) expect(x).toMatchObject({ status: 'DOWN', check: 'L7STS' });
    expect((await psql(endpoint(), 'SELECT 1', env.APP_DB_PASSWORD!)).ok).toBe(true);
    console.log(`\nPatroni REST API over TLS:\n  ${figures.join('\n  ')}\n`);
  }, 180_000);

  for (const kind of ['kill', 'hang', 'postmaster'] as const) {
    it(`${kind === 'kill' ? "kill -9 the leader's Patroni" : kind === 'hang' ? "SIGSTOP the leader's Patroni, then SIGCONT" : "kill -9 the leader's postmaster"}: writes resume${kind === 'postmaster' ? '' : ' within 15 s'}, no acknowledged write lost`, async () => {
      for (let i = 0; i < REPEATS; i++) await episode(kind);
      if (!STOCK && kind !== 'postmaster') expect(Math.max(...results[kind]!)).toBeLessThanOrEqual(15);
    }, 900_000);
  }
});
