/** database.ha streaming / patroni: what is rendered on each platform, the version-dependent DCS, the rules. */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { SpecError } from '../../src/errors.js';
import { databaseReadmeSection } from '../../src/targets/postgres/readme.js';
import { PATRONI_HOSTS } from '../helpers/presets.js';

const ctx = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
const inventory = PATRONI_HOSTS;
function bundle(values: Record<string, unknown>) {
  const { spec, warnings } = resolveSpec([{ source: 'file', values: { tier: 'multi-server', storage: 'nfs', ...values } }]);
  return { b: render(spec, ctx), warnings };
}
const text = (b: ReturnType<typeof render>, p: string) => {
  const f = b.files.get(p);
  if (!f) throw new Error(`${p} not rendered; have: ${[...b.files.keys()].join(', ')}`);
  return f.contents;
};

describe('patroni on hosts', () => {
  const { b } = bundle({ platform: 'hosts', hosts: inventory, database: { ha: 'patroni', synchronous: true } });
  const cfg = parseYaml(text(b, 'hosts/db1/etc/patroni/patroni.yml')) as Record<string, any>;

  it('patroni.yml: scope, timing for a short RTO, slots, rewind, failsafe, synchronous, watchdog never required', () => {
    expect(cfg.scope).toBe('home-registry');
    expect(cfg.bootstrap.dcs).toMatchObject({ ttl: 10, loop_wait: 2, retry_timeout: 4, maximum_lag_on_failover: 1048576, failsafe_mode: true, synchronous_mode: true });
    expect(cfg.bootstrap.dcs.loop_wait + 2 * cfg.bootstrap.dcs.retry_timeout).toBeLessThanOrEqual(cfg.bootstrap.dcs.ttl);
    expect(cfg.bootstrap.dcs.postgresql).toMatchObject({ use_slots: true, use_pg_rewind: true });
    expect(cfg.postgresql.bin_dir).toBe('/usr/lib/postgresql/17/bin');
    expect(cfg.watchdog.mode).toBe('automatic');
    expect(cfg.postgresql.pg_hba.at(-1)).toMatch(/reject/);
    expect(cfg.postgresql.pg_hba).toContain('host replication replicator 10.0.2.11/32 scram-sha-256');
    expect(cfg.postgresql.pg_hba.join('\n')).not.toMatch(/md5|trust/);
  });

  it('Patroni 3.0.2 (the default) gets the etcd v2 API and etcd enable-v2; 3.0.3+ gets etcd3 + the gRPC gateway', () => {
    expect(cfg.etcd.hosts).toEqual(['10.0.2.10:2379', '10.0.2.11:2379', '10.0.2.12:2379']);
    expect(cfg.etcd3).toBeUndefined();
    expect(text(b, 'hosts/db1/etc/patroni/patroni.yml')).toMatch(/PR #2689/);
    expect(parseYaml(text(b, 'hosts/db1/etc/etcd/etcd.conf.yml'))).toMatchObject({ name: 'db1', 'enable-v2': true, 'initial-cluster-state': 'new' });
    const newer = bundle({ platform: 'hosts', hosts: inventory, database: { ha: 'patroni', patroniVersion: '3.3.2' } }).b;
    const c2 = parseYaml(text(newer, 'hosts/db2/etc/patroni/patroni.yml')) as Record<string, any>;
    expect(c2.etcd3.hosts).toHaveLength(3);
    expect(c2.etcd).toBeUndefined();
    expect(parseYaml(text(newer, 'hosts/db2/etc/etcd/etcd.conf.yml'))).toMatchObject({ 'enable-grpc-gateway': true });
  });

  it('no secret in any file but .env: passwords come from PATRONI_* variables', () => {
    expect(cfg.postgresql.authentication).toBeUndefined();
    expect(cfg.restapi.authentication).toBeUndefined();
    const names = b.secrets.map((s) => s.name);
    for (const n of ['PATRONI_SUPERUSER_PASSWORD', 'PATRONI_REPLICATION_PASSWORD', 'PATRONI_REWIND_PASSWORD', 'PATRONI_RESTAPI_PASSWORD', 'PATRONI_RESTAPI_USERNAME']) expect(names).toContain(n);
    expect(text(b, 'hosts/db1/etc/systemd/system/patroni.service')).toMatch(/^ExecStart=\/usr\/bin\/patroni \/etc\/patroni\/patroni.yml$/m);
    expect(text(b, 'hosts/db1/etc/systemd/system/patroni.service')).toMatch(/^User=postgres$/m);
  });

  it('the DB endpoint (default app-hosts): its own HAProxy on every app host, /primary on 5000, /replica with the primary as fallback on 5001, stats on localhost; each app\'s DATABASE_URL names its own host', () => {
    for (const [app, addr] of [['app1', '10.0.1.10'], ['app2', '10.0.1.11']] as const) {
      const cfgText = text(b, `hosts/${app}/etc/haproxy/haproxy-db.cfg`);
      expect(cfgText).toContain(`bind ${addr}:5000`);
      expect(cfgText).toContain('bind 127.0.0.1:7000');
      expect(cfgText).toMatch(/option httpchk OPTIONS \/primary/);
      expect(cfgText).toMatch(/on-marked-down shutdown-sessions/);
      expect(cfgText).toMatch(/use_backend db_replicas if \{ nbsrv\(db_replicas\) gt 0 \}\n\s+default_backend db_primary/);
      expect(cfgText).toMatch(/server db3 10\.0\.2\.12:5432 check port 8008/);
      expect(text(b, `hosts/${app}/etc/systemd/system/haproxy-db.service`)).toMatch(/ExecStart=\/usr\/sbin\/haproxy -Ws -f \/etc\/haproxy\/haproxy-db.cfg/);
      expect(text(b, 'deploy.sh')).toContain(`DATABASE_URL "postgres://app:\${APP_DB_PASSWORD}@${addr}:5000/home_inventory"`);
    }
    expect(b.files.has('hosts/lb1/etc/haproxy/haproxy-db.cfg')).toBe(false);
  });

  it('the REST API over TLS: Patroni serves it with the host certificate, changes need a client certificate; the endpoint and Prometheus verify it with the CA alone', () => {
    expect(cfg.restapi).toMatchObject({ certfile: '/etc/patroni/pki/host.crt', keyfile: '/etc/patroni/pki/host.key', cafile: '/etc/patroni/pki/ca.crt', verify_client: 'optional' });
    expect(cfg.ctl).toEqual({ cacert: '/etc/patroni/pki/ca.crt', certfile: '/etc/patroni/pki/host.crt', keyfile: '/etc/patroni/pki/host.key', insecure: false });
    const ep = text(b, 'hosts/app1/etc/haproxy/haproxy-db.cfg');
    expect(ep.match(/default-server .* check-ssl verify required ca-file \/etc\/haproxy\/pki\/ca\.crt$/gm)).toHaveLength(2);
    expect(ep).not.toMatch(/verify none/);
    for (const m of ['db1', 'db2', 'db3']) expect(ep.match(new RegExp(`^    server ${m} \\S+ check port 8008 verifyhost ${m}$`, 'gm'))).toHaveLength(2);
    const prom = parseYaml(text(b, 'hosts/app1/etc/prometheus/prometheus.yml')) as { scrape_configs: Array<Record<string, any>> };
    const jobs = prom.scrape_configs.filter((j) => j.scheme === 'https');
    expect(jobs.map((j) => j.job_name)).toEqual(['patroni']);
    expect(jobs[0]!.tls_config).toEqual({ ca_file: '/etc/prometheus/pki/ca.crt' });
    // deploy.sh: app hosts get the CA only (root, 0644), no key; db hosts keep their key for postgres only
    const deploy = text(b, 'deploy.sh');
    const pkiOf = (host: string) => new RegExp(`^  ${host}\\)\\n[\\s\\S]*?^    pki_files=\\((.*)\\)$`, 'm').exec(deploy)![1]!;
    expect(pkiOf('app1')).toBe("'ca.crt /etc/haproxy/pki/ca.crt root 0644' 'ca.crt /etc/prometheus/pki/ca.crt root 0644'");
    expect(pkiOf('db1')).toContain("'db1.key /etc/patroni/pki/host.key postgres 0600'");
    // compose: the same TLS (test/unit/container-tls.test.ts has the rest)
    const compose = bundle({ tier: 'single-server', platform: 'compose', storage: 'local', database: { ha: 'patroni' } }).b;
    const member = parseYaml(text(compose, [...compose.files.keys()].find((f) => /^patroni\/.*\.yml$/.test(f))!)) as Record<string, any>;
    expect(member.restapi.certfile).toBe('/etc/patroni/pki/host.crt');
    expect(text(compose, 'db-endpoint/haproxy-db.cfg')).toMatch(/check-ssl verify required ca-file \/etc\/haproxy\/pki\/ca\.crt/);
  });

  it('database.endpoint lb-hosts: the endpoint on every lb host, and the app connects to the first (plan names that host)', () => {
    const lbHosts = bundle({ platform: 'hosts', hosts: inventory, database: { ha: 'patroni', endpoint: 'lb-hosts' } }).b;
    expect(text(lbHosts, 'hosts/lb1/etc/haproxy/haproxy-db.cfg')).toContain('bind 10.0.1.5:5000');
    expect(text(lbHosts, 'deploy.sh')).toMatch(/DATABASE_URL "postgres:\/\/app:\$\{APP_DB_PASSWORD\}@10\.0\.1\.5:5000\/home_inventory"/);
    expect(lbHosts.files.has('hosts/app1/etc/haproxy/haproxy-db.cfg')).toBe(false);
  });

  it('the README section gives the endpoint, the libpq alternative, the Dockerfile (containers) and measured RTO/RPO', () => {
    const md = databaseReadmeSection(resolveSpec([{ source: 'file', values: { tier: 'multi-server', storage: 'nfs', platform: 'hosts', hosts: inventory, database: { ha: 'patroni', synchronous: true } } }]).spec);
    expect(md).toMatch(/`10\.0\.1\.10:5000`, `10\.0\.1\.11:5000`/);
    expect(md).toMatch(/target_session_attrs=read-write/);
    expect(md).toMatch(/\| kill -9 the leader's Patroni \| \d+(\.\d)? \/ \d+(\.\d)? \/ \d+(\.\d)? s \(\d+ of \d+\) \|/);
    expect(md).toMatch(/RPO: synchronous: true: 0 acknowledged writes lost/);
    const compose = databaseReadmeSection(resolveSpec([{ source: 'file', values: { platform: 'compose', database: { ha: 'patroni' } } }]).spec);
    expect(compose).toMatch(/patroni\/Dockerfile/);
    expect(compose).toMatch(/no official `patroni\/patroni` image/);
    expect(databaseReadmeSection(resolveSpec([{ source: 'file', values: {} }]).spec)).toBe('');
  });
});

describe('streaming on hosts', () => {
  const { b } = bundle({ platform: 'hosts', hosts: inventory.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })), database: { ha: 'streaming' } });
  it('primary and standbys: conf, hba (replication from db hosts only, final reject), role SQL, bootstrap + promote scripts, units', () => {
    const conf = text(b, 'hosts/db1/etc/postgresql/17/main/postgresql.conf');
    for (const s of [/wal_level = 'replica'/, /max_wal_senders = \d+/, /max_replication_slots = \d+/, /max_slot_wal_keep_size/, /hot_standby = on/, /wal_log_hints = on/, /password_encryption = 'scram-sha-256'/, /listen_addresses = '10\.0\.2\.10'/, /archive_mode/]) expect(conf).toMatch(s);
    const hba = text(b, 'hosts/db1/etc/postgresql/17/main/pg_hba.conf');
    expect(hba).toMatch(/^host\s+replication\s+replicator\s+10\.0\.2\.11\/32\s+scram-sha-256$/m);
    expect(hba).not.toMatch(/replication\s+replicator\s+10\.0\.1/);
    expect(hba.trim().split('\n').at(-1)).toMatch(/reject/);
    expect(text(b, 'hosts/db2/usr/local/sbin/home-registry-replica-bootstrap')).toMatch(/-R -X stream -S "\$slot"/);
    expect(text(b, 'hosts/db2/usr/local/sbin/home-registry-replica-bootstrap')).toMatch(/pg_basebackup" "\$\{args\[@\]\}" -C/);
    expect(text(b, 'hosts/db2/etc/systemd/system/postgresql@17-main.service')).toMatch(/ExecStartPre=\/usr\/local\/sbin\/home-registry-replica-bootstrap/);
    expect(text(b, 'hosts/db1/etc/systemd/system/postgresql@17-main.service')).toMatch(/initdb/);
    expect(text(b, 'hosts/db1/etc/home-registry/replication-role.psql')).toMatch(/\\getenv repl_password REPLICATION_PASSWORD/);
  });
  it('hostssl when database.tls is on', () => {
    const tls = bundle({ platform: 'hosts', hosts: inventory.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== 'etcd') })), database: { ha: 'streaming', tls: true } }).b;
    const hba = text(tls, 'hosts/db1/etc/postgresql/17/main/pg_hba.conf');
    expect(hba).toMatch(/^hostssl\s+replication\s+replicator\s+10\.0\.2\.11\/32/m);
    expect(text(tls, 'hosts/db1/etc/postgresql/17/main/postgresql.conf')).toMatch(/^ssl = on$/m);
  });
});

describe('containers', () => {
  it('compose streaming: db + db-replica, replication from the Docker network only (samenet)', () => {
    const { b } = bundle({ tier: 'single-server', platform: 'compose', storage: 'local', database: { ha: 'streaming' } });
    const doc = parseYaml(text(b, 'docker-compose.yml')) as Record<string, any>;
    expect(doc.services['db-replica'].entrypoint).toEqual(['bash', '/etc/postgresql/replica-bootstrap.sh', '--start']);
    expect(doc.services['db-replica'].environment.REPLICATION_SLOT).toBe('db_replica');
    expect(text(b, 'postgres/pg_hba.conf')).toMatch(/^host\s+replication\s+replicator\s+samenet\s+scram-sha-256$/m);
  });
  it('compose patroni: 3 etcd, Patroni members built from the Dockerfile, the endpoint, and the app on db-endpoint:5000', () => {
    const { b } = bundle({ tier: 'single-server', platform: 'compose', storage: 'local', database: { ha: 'patroni' } });
    const doc = parseYaml(text(b, 'docker-compose.yml')) as Record<string, any>;
    for (const s of ['etcd1', 'etcd2', 'etcd3', 'db1', 'db2', 'db-endpoint']) expect(doc.services[s], s).toBeDefined();
    expect(doc.services.db1.build.context).toBe('./patroni');
    expect(text(b, 'patroni/Dockerfile')).toMatch(/^FROM postgres:\$\{PG_MAJOR\}$/m);
    expect(doc.services.app1.environment.DATABASE_URL).toMatch(/@db-endpoint:5000\//);
  });
  it('swarm patroni and streaming render (members pinned by node label)', () => {
    const p = parseYaml(text(bundle({ platform: 'swarm', database: { ha: 'patroni' } }).b, 'stack.yml')) as Record<string, any>;
    expect(p.services.db1.deploy.placement.constraints).toEqual(['node.labels.patroni == db1']);
    expect(p.services.app.environment.DATABASE_URL).toMatch(/@db-endpoint:5000\//);
    const s = parseYaml(text(bundle({ platform: 'swarm', database: { ha: 'streaming', replicas: 1 } }).b, 'stack.yml')) as Record<string, any>;
    expect(s.services['db-replica'].deploy.placement.constraints).toEqual(['node.labels.database == replica']);
  });
});

describe('database rules', () => {
  const issues = (values: Record<string, unknown>) => {
    try {
      bundle(values);
    } catch (e) {
      if (e instanceof SpecError) return e.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
      throw e;
    }
    return '';
  };
  it('refuses 2 etcd members, warns on 1', () => {
    expect(issues({ platform: 'swarm', database: { ha: 'patroni', etcdMembers: 2 } })).toMatch(/database.etcdMembers: 2 etcd members/);
    expect(bundle({ platform: 'swarm', database: { ha: 'patroni', etcdMembers: 1 } }).warnings.join('\n')).toMatch(/single point of failure/);
    const two = inventory.map((h) => (h.name === 'db3' ? { ...h, roles: ['db'] } : h));
    expect(issues({ platform: 'hosts', hosts: two, database: { ha: 'patroni' } })).toMatch(/2 etcd hosts/);
  });
  it('refuses endpoint ports that collide with the load balancer on hosts', () => {
    expect(issues({ platform: 'hosts', hosts: inventory, database: { ha: 'patroni', endpointPorts: { write: 80 } } })).toMatch(/database.endpointPorts.write: 80 is already used/);
  });
});
