/**
 * Live (issue 15): multi-region logical replication between two Patroni clusters, as generated, with
 * TLS on. The user's path: a multi-region hosts spec (lab addresses, database.tls true, Patroni in
 * both regions, the smallest inventory the rules accept: per region 2 lb+app hosts, 2 db+etcd hosts,
 * 1 etcd host), `ha-gen generate`, then each region's own deploy.sh replayed onto lab hosts (what it
 * copies, the EnvironmentFiles and pki/ files it writes, its units in order, its after-steps), and
 * the database certificate files installed where database.certFile/keyFile/caFile say (the user's
 * step, README "TLS"; here the bundle's own pki/ certificate of each host, which names its address).
 * etcd runs on the three etcd hosts of each region, Patroni on the first database host of each
 * region only (one member per region keeps the run bounded; a second member is the streaming
 * failover the Patroni tests cover). Nothing is configured by hand beyond what regions/README.md
 * says: wal_level logical comes from Patroni's bootstrap.dcs, the logical role's pg_hba line from
 * patroni.yml, then publication.psql on the primary and subscription.psql in the other region.
 * Measured: seconds until a row written in the primary region appears in the other.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/tools.js';
import { labRequirements } from '../lab/requirements.js';
import { createLab, waitUntil, type HostProcess, type Lab } from '../lab/lab.js';
import { deployRecord, installDeployed, PATRONI_CA, type Bundle, type Deployed } from './harness/whole-host.js';
import { parseEnvironmentFile, startUnitOnHost } from './harness/lab-units.js';

const lab0 = labRequirements('live multi-region Patroni replication');
const tools = lab0.skip ? lab0 : skipUnlessTool(['etcd', 'patroni', 'psql', 'curl', 'tar'], 'live multi-region Patroni replication');
const SKIP = lab0.skip || tools.skip;

const REGIONS = [
  { name: 'us-east', net: '127.0.93', primary: true },
  { name: 'eu-west', net: '127.0.94', primary: false },
] as const;
const inventory = REGIONS.flatMap((r) => [
  { name: `lb1-${r.name}`, address: `${r.net}.10`, roles: ['lb', 'app', 'storage'], region: r.name },
  { name: `lb2-${r.name}`, address: `${r.net}.11`, roles: ['lb', 'app'], region: r.name },
  { name: `db1-${r.name}`, address: `${r.net}.20`, roles: ['db', 'etcd'], region: r.name },
  { name: `db2-${r.name}`, address: `${r.net}.21`, roles: ['db', 'etcd'], region: r.name },
  { name: `etcd3-${r.name}`, address: `${r.net}.22`, roles: ['etcd'], region: r.name },
]);

const specYaml = [
  'version: 1',
  'name: home-registry',
  'tier: multi-region',
  'platform: hosts',
  'storage: { kind: s3 }',
  'database: { ha: patroni, version: 15, tls: true }',
  'regions:',
  ...REGIONS.map((r) => `  - { name: ${r.name}, primary: ${r.primary}, floatingAddress: ${r.net}.4 }`),
  'hosts:',
  ...inventory.map((h) => `  - { name: ${h.name}, address: ${h.address}, roles: [${h.roles.join(', ')}], region: ${h.region} }`),
  '',
].join('\n');

describe.skipIf(SKIP)('live: multi-region logical replication between two Patroni clusters, as generated, TLS on', { timeout: 900_000 }, () => {
  let work = '';
  let out = '';
  let env: Record<string, string> = {};
  let lab: Lab;
  const procs: HostProcess[] = [];
  const deployed = new Map<string, Deployed>();
  const figures: Record<string, number | string> = {};
  const etcdHosts = inventory.filter((h) => h.roles.includes('etcd'));
  const db1 = (r: string) => inventory.find((h) => h.name === `db1-${r}`)!;

  /** psql on a database host over its Unix socket, as the OS user postgres (peer) or a role with a password. */
  const psql = (host: string, sql: string, o: { user?: string; password?: string; env?: Record<string, string>; file?: string } = {}) =>
    lab.exec(host, ['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '/var/run/postgresql', '-U', o.user ?? 'postgres', '-d', 'home_inventory', ...(o.file ? ['-f', '-'] : ['-c', sql])], {
      user: 'postgres',
      env: { ...(o.password ? { PGPASSWORD: o.password } : {}), ...o.env },
      input: o.file,
      timeoutMs: 30_000,
    });

  beforeAll(async () => {
    ensureBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'ha-gen-region-patroni-'));
    await fs.chmod(work, 0o755);
    await fs.writeFile(path.join(work, 'ha-gen.yaml'), specYaml);
    const gen = await runCli(['generate', '--out', 'ha-bundle'], { cwd: work });
    expect(gen.code, gen.output).toBe(0);
    out = path.join(work, 'ha-bundle');
    env = parseEnvironmentFile(await fs.readFile(path.join(out, '.env'), 'utf8'));
    if ((await fs.readdir('/dev')).some((d) => /^watchdog/.test(d))) throw new Error('this machine has a watchdog device; Patroni (watchdog automatic) must not arm it: run this test where /dev/watchdog is absent');

    lab = await createLab({ hosts: etcdHosts.map((h) => ({ name: h.name, address: h.address })), powerOn: false });
    for (const name of lab.hostNames) await lab.powerOn(name);
    // Each region deployed by its own deploy.sh (regions/<r>/deploy.sh copies regions/<r>/hosts/<h>).
    for (const r of REGIONS) {
      const regionOut = path.join(out, 'regions', r.name);
      const order = execFileSync('bash', [path.join(regionOut, 'deploy.sh'), '--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
      const bundle = { out: regionOut, hosts: inventory.filter((h) => h.region === r.name) } as unknown as Bundle;
      for (const name of order.filter((n) => etcdHosts.some((h) => h.name === n))) {
        const d = await deployRecord(bundle, name, path.join(work, 'spool', r.name));
        deployed.set(name, d);
        await installDeployed(lab, name, d);
      }
    }
    // The user's step for database.tls (bundle README): the server certificate and key where
    // database.certFile/keyFile say, the CA where database.caFile says, on every database server.
    for (const h of inventory.filter((x) => x.roles.includes('db'))) {
      const pki = (f: string) => fs.readFile(path.join(out, 'pki', f));
      await lab.writeFile(h.name, '/etc/ssl/certs/ha-gen-db.crt', await pki(`${h.region}.${h.name}.crt`), { mode: 0o644 });
      await lab.writeFile(h.name, '/etc/ssl/private/ha-gen-db.key', await pki(`${h.region}.${h.name}.key`), { mode: 0o600, owner: 'postgres' });
      await lab.writeFile(h.name, '/etc/ssl/certs/ha-gen-db-ca.crt', await pki('ca.crt'), { mode: 0o644 });
    }
  }, 300_000);

  afterAll(async () => {
    console.log(`\nmulti-region Patroni logical replication (live, TLS): ${JSON.stringify(figures)}\n`);
    for (const p of [...procs].reverse()) await p.stop('SIGTERM', 15_000).catch(() => undefined);
    await lab?.close();
    if (work) await fs.rm(work, { recursive: true, force: true });
  }, 180_000);

  it('each region: etcd from its units, the etcd-auth step, then Patroni on the first database host leads', async () => {
    for (const r of REGIONS) {
      const hosts = etcdHosts.filter((h) => h.region === r.name);
      for (const h of hosts) {
        const d = deployed.get(h.name)!;
        expect(d.units, h.name).toContain('etcd');
        const s = await startUnitOnHost(lab, h.name, 'etcd');
        procs.push(s.proc);
      }
      for (const h of hosts) {
        for (const c of deployed.get(h.name)!.after.filter((x) => x.endsWith('-etcd-auth'))) {
          const res = await lab.exec(h.name, ['sh', '-c', c], { timeoutMs: 90_000 });
          expect(res.code, `${h.name}: ${c}: ${res.stdout}${res.stderr}`).toBe(0);
        }
      }
      const h = db1(r.name);
      expect(deployed.get(h.name)!.units).toContain('patroni');
      const t = Date.now();
      const s = await startUnitOnHost(lab, h.name, 'patroni');
      procs.push(s.proc);
      await waitUntil(`${h.name} to lead`, async () => (await lab.http(h.name, `https://${h.address}:8008/primary`, { timeoutMs: 1000, ca: PATRONI_CA })).status === 200, 180_000, 500).catch((e) => {
        throw new Error(`${String(e)}\n${s.proc.log().split('\n').slice(-40).join('\n')}`);
      });
      figures[`${r.name}LeaderS`] = (Date.now() - t) / 1000;
    }
    // The settings reached PostgreSQL the way Patroni applies them (bootstrap.dcs), TLS included.
    const wal = await psql(db1('us-east').name, 'SHOW wal_level');
    expect(wal.stdout.trim(), wal.stderr).toBe('logical');
    expect((await psql(db1('eu-west').name, 'SHOW wal_level')).stdout.trim()).toBe('replica');
    expect((await psql(db1('us-east').name, 'SHOW ssl')).stdout.trim()).toBe('on');
  });

  it('a row written in the primary region appears in the other region over TLS; the app there may not write', async () => {
    const pub = db1('us-east').name;
    const sub = db1('eu-west').name;
    const app = { user: 'app', password: env.APP_DB_PASSWORD! };
    const logical = { LOGICAL_REPLICATION_PASSWORD: env.LOGICAL_REPLICATION_PASSWORD! };
    // The schema in both regions: the app's migrations, as the app's role (regions/README.md step 2).
    for (const h of [pub, sub]) {
      const m = await psql(h, 'CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)', app);
      expect(m.code, `${h}: ${m.stdout}${m.stderr}`).toBe(0);
    }
    const w0 = await psql(pub, "INSERT INTO items VALUES (1, 'before the subscription')", app);
    expect(w0.code, w0.stderr).toBe(0);
    const p = await psql(pub, '', { file: await fs.readFile(path.join(out, 'regions/us-east/logical/publication.psql'), 'utf8'), env: logical });
    expect(p.code, `publication.psql: ${p.stdout}${p.stderr}`).toBe(0);
    const s = await psql(sub, '', { file: await fs.readFile(path.join(out, 'regions/eu-west/logical/subscription.psql'), 'utf8'), env: logical });
    expect(s.code, `subscription.psql: ${s.stdout}${s.stderr}`).toBe(0);
    await waitUntil('the initial copy', async () => (await psql(sub, 'SELECT count(*) FROM items')).stdout.trim() === '1', 60_000, 200).catch(async (e) => {
      throw new Error(`${String(e)}\n${(await psql(sub, 'SELECT * FROM pg_stat_subscription')).stdout}`);
    });

    const t0 = Date.now();
    const w = await psql(pub, "INSERT INTO items VALUES (2, 'written in us-east')", app);
    expect(w.code, w.stderr).toBe(0);
    const seen = await waitUntil('row 2 in eu-west', async () => ((await psql(sub, 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM items')).stdout.trim() === '1,2' ? true : null), 30_000, 50);
    const s1 = (Date.now() - t0) / 1000;
    figures.rowVisibleAfterS = s1;
    expect(seen).toBe(true);
    console.log(`multi-region (Patroni, TLS): row visible in eu-west ${s1.toFixed(2)} s after the insert in us-east`);

    // Over TLS: the publisher sees the subscriber's walsender connection encrypted.
    const ssl = await psql(pub, "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'logical_replicator' AND a.backend_type = 'walsender'");
    expect(ssl.stdout.trim(), ssl.stderr).toMatch(/^t\|TLSv1\.[23]$/m);
    figures.tls = ssl.stdout.trim().split('|')[1] ?? '';
    // The lag views as generated work on both sides.
    const lagSub = await psql(sub, '', { file: await fs.readFile(path.join(out, 'regions/eu-west/logical/lag.sql'), 'utf8') });
    expect(lagSub.stdout).toMatch(/^home_registry_sub_eu_west\|/m);
    const lagPub = await psql(pub, '', { file: await fs.readFile(path.join(out, 'regions/us-east/logical/lag.sql'), 'utf8') });
    expect(lagPub.stdout).toMatch(/^home_registry_sub_eu_west\|t\|/m);

    // regions/README.md: the app in the other region reads its own database and may not write there.
    const local = await psql(sub, "INSERT INTO items VALUES (3, 'written in eu-west')", app);
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/read-only transaction/);
    expect((await psql(sub, 'SELECT count(*) FROM items', app)).stdout.trim()).toBe('2');
    // and replication goes on after that refused write
    const t1 = Date.now();
    expect((await psql(pub, "INSERT INTO items VALUES (4, 'again')", app)).code).toBe(0);
    await waitUntil('row 4 in eu-west', async () => (await psql(sub, 'SELECT max(id) FROM items')).stdout.trim() === '4', 30_000, 50);
    figures.secondRowVisibleAfterS = (Date.now() - t1) / 1000;
  });
});
