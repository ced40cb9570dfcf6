/**
 * Issue 15: what the README, plan and RUNBOOK promise holds in the generated files.
 * - compose/swarm with a replicated database: archiving on (pgBackRest in every member's image, the
 *   repository volume mounted), a backup service beside every member, the stanza created before the
 *   first segment is archived (Patroni's post-bootstrap, the streaming init script);
 * - multi-region: the primary region's wal_level logical and slots reach PostgreSQL the way its
 *   database mode applies them (Patroni: bootstrap.dcs), pg_hba lets the other regions' subscribers in
 *   before the final reject, and the subscription's sslmode matches the server's TLS.
 * The container lab (test/containers/db-backup.test.ts) runs the compose bundles for real.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { render } from '../../src/render/index.js';
import { specSchema, type SpecInput } from '../../src/spec/schema.js';

const CTX = { version: 'test', specFile: 'ha-gen.yaml' };
const files = (v: SpecInput) => render(specSchema.parse(v), CTX).files;
const text = (f: ReturnType<typeof files>, p: string) => {
  // {v}: the database version, whatever the default is
  const key = p.includes('{v}') ? [...f.keys()].find((k) => new RegExp(`^${p.replace(/[.]/g, '\\.').replace('{v}', '\\d+')}$`).test(k)) : p;
  const x = key ? f.get(key) : undefined;
  if (!x) throw new Error(`no ${p} in the bundle`);
  return x.contents;
};
type Svc = { image: string; volumes?: string[]; entrypoint?: string[]; configs?: Array<{ target: string }>; deploy?: { placement?: { constraints?: string[] } } };

describe('backups with a replicated database on compose and swarm', () => {
  for (const platform of ['compose', 'swarm'] as const) {
    for (const ha of ['patroni', 'streaming'] as const) {
      it(`${platform} + ${ha}: every member archives into the repository and has a backup service`, () => {
        const f = files({ version: 1, tier: platform === 'compose' ? 'single-server' : 'multi-server', platform, database: { ha } });
        const doc = parse(text(f, platform === 'compose' ? 'docker-compose.yml' : 'stack.yml')) as { services: Record<string, Svc> };
        const members = ha === 'patroni' ? ['db1', 'db2'] : ['db', 'db-replica'];
        for (const m of members) {
          const db = doc.services[m]!;
          expect(db.volumes, m).toContain('pgbackrest-repo:/var/lib/pgbackrest');
          const b = doc.services[`backup-${m}`];
          expect(b, `backup-${m}`).toBeDefined();
          expect(b!.image).toBe(db.image);
          expect(b!.entrypoint).toEqual(['bash', '/usr/local/bin/schedule.sh']);
          // the same data path as the member (pgBackRest checks pg1-path against data_directory) and its socket
          const dataVol = db.volumes!.find((v) => v.endsWith(':/var/lib/postgresql/data'))!;
          expect(b!.volumes).toContain(dataVol);
          expect(b!.volumes).toContain(`${m}-socket:/var/run/postgresql`);
          expect(db.volumes).toContain(`${m}-socket:/var/run/postgresql`);
          if (platform === 'swarm') expect(b!.deploy?.placement?.constraints).toEqual(db.deploy?.placement?.constraints);
        }
        if (ha === 'patroni') {
          const cfg = parse(text(f, 'patroni/db1.yml')) as { postgresql: { parameters: Record<string, string> } };
          expect(cfg.postgresql.parameters.archive_mode).toBe('on');
          expect(cfg.postgresql.parameters.archive_command).toBe('pgbackrest --stanza=home-registry archive-push %p');
          expect(text(f, 'patroni/Dockerfile')).toMatch(/apt-get install[^\n]* pgbackrest/);
          expect(text(f, 'patroni/post-bootstrap.sh')).toContain("pgbackrest --stanza='home-registry' stanza-create");
          expect(text(f, 'backup/pgbackrest.conf')).toContain('pg1-path=/var/lib/postgresql/data/pgdata');
        } else {
          expect(text(f, 'postgres/postgresql.conf')).toMatch(/^archive_mode = on$/m);
          expect(text(f, 'postgres/postgresql.conf')).toContain("archive_command = 'pgbackrest --stanza=home-registry archive-push %p'");
          expect(text(f, 'postgres/init/30-pgbackrest-stanza.sh')).toContain('stanza-create');
          expect(doc.services.db!.image).toMatch(/pgbackrest/);
        }
        expect(text(f, 'RUNBOOK.md')).not.toContain('not wired');
        // single-database override files stay for ha none only
        expect(f.has(platform === 'compose' ? 'docker-compose.backup.yml' : 'stack.backup.yml')).toBe(false);
      });
    }
  }
});

describe('multi-region logical replication as generated', () => {
  const hosts = (ha: string) => ({
    version: 1,
    tier: 'multi-region',
    platform: 'hosts',
    database: { ha, tls: false },
    storage: { kind: 's3' },
    regions: [{ name: 'us-east', primary: true }, { name: 'eu-west' }],
    hosts: [
      ...['10.0.1.11', '10.0.1.12'].map((a, i) => ({ name: `lb${i + 1}`, address: a, roles: ['lb', 'app', ...(i ? [] : ['storage'])], region: 'us-east' })),
      ...['10.0.1.21', '10.0.1.22'].map((a, i) => ({ name: `db${i + 1}`, address: a, roles: ['db', ...(ha === 'patroni' ? ['etcd'] : [])], region: 'us-east' })),
      ...(ha === 'patroni' ? [{ name: 'etcd3', address: '10.0.1.23', roles: ['etcd'], region: 'us-east' }] : []),
      ...['10.0.2.11', '10.0.2.12'].map((a, i) => ({ name: `eu-lb${i + 1}`, address: a, roles: ['lb', 'app', ...(i ? [] : ['storage'])], region: 'eu-west' })),
      ...['10.0.2.21', '10.0.2.22'].map((a, i) => ({ name: `eu-db${i + 1}`, address: a, roles: ['db', ...(ha === 'patroni' ? ['etcd'] : [])], region: 'eu-west' })),
      ...(ha === 'patroni' ? [{ name: 'eu-etcd3', address: '10.0.2.23', roles: ['etcd'], region: 'eu-west' }] : []),
    ],
  });

  it('patroni: wal_level logical and the slots are in bootstrap.dcs of the primary region only; pg_hba admits the subscribers before the reject', () => {
    const f = files(hosts('patroni') as SpecInput);
    const yml = (r: string, h: string) => parse(text(f, `regions/${r}/hosts/${h}/etc/patroni/patroni.yml`)) as { bootstrap: { dcs: { postgresql: { parameters: Record<string, unknown> } } }; postgresql: { pg_hba: string[] } };
    const p = yml('us-east', 'db1');
    expect(p.bootstrap.dcs.postgresql.parameters.wal_level).toBe('logical');
    expect(Number(p.bootstrap.dcs.postgresql.parameters.max_replication_slots)).toBeGreaterThanOrEqual(13);
    const hba = p.postgresql.pg_hba;
    const reject = hba.findIndex((l) => /reject/.test(l));
    for (const a of ['10.0.2.21/32', '10.0.2.22/32']) {
      const i = hba.findIndex((l) => new RegExp(`^host\\s+home_inventory\\s+logical_replicator\\s+${a.replace(/[./]/g, '\\$&')}\\s+scram-sha-256$`).test(l));
      expect(i, `${a} in ${hba.join('\n')}`).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(reject);
    }
    // the app role script closes the database to PUBLIC: the publication opens it to the logical role
    expect(text(f, 'regions/us-east/hosts/db1/etc/home-registry/app-role.psql')).toMatch(/REVOKE ALL ON DATABASE %I FROM PUBLIC/);
    expect(text(f, 'regions/us-east/logical/publication.psql')).toMatch(/^SELECT format\('GRANT CONNECT ON DATABASE %I TO %I', :'app_db', :'repl_user'\) \\gexec$/m);
    const eu = yml('eu-west', 'eu-db1');
    expect(eu.bootstrap.dcs.postgresql.parameters.wal_level).toBe('replica');
    expect(eu.postgresql.pg_hba.join('\n')).not.toContain('logical_replicator');
  });

  it('streaming: the primary region\'s postgresql.conf has wal_level logical; the subscription does not claim TLS the server lacks', () => {
    const f = files(hosts('streaming') as SpecInput);
    expect(text(f, 'regions/us-east/hosts/db1/etc/postgresql/{v}/main/postgresql.conf').replace(/^\s*#.*$/gm, '')).toMatch(/^wal_level = 'logical'$/m);
    expect(text(f, 'regions/eu-west/hosts/eu-db1/etc/postgresql/{v}/main/postgresql.conf')).toMatch(/^wal_level = 'replica'$/m);
    const sub = text(f, 'regions/eu-west/logical/subscription.psql');
    expect(sub).toMatch(/\\set sslmode prefer/);
    expect(text(f, 'regions/README.md')).toContain('The link is not encrypted');
    const tls = files({ ...hosts('streaming'), database: { ha: 'streaming', tls: true } } as SpecInput);
    expect(text(tls, 'regions/eu-west/logical/subscription.psql')).toMatch(/\\set sslmode require/);
    expect(text(tls, 'regions/us-east/hosts/db1/etc/postgresql/{v}/main/pg_hba.conf')).toMatch(/^hostssl\s+home_inventory\s+logical_replicator\s+10\.0\.2\.21\/32\s+scram-sha-256$/m);
  });

  // regions/README.md's table says where each region's app connects; the files must say the same,
  // and a subscriber region's database must not take the app's writes (they would stop replication).
  it.each(['patroni', 'streaming'])('%s: each region\'s DATABASE_URL is where regions/README.md says; the other region is read-only for the app', (ha) => {
    const f = files(hosts(ha) as SpecInput);
    const readme = text(f, 'regions/README.md');
    for (const r of ['us-east', 'eu-west']) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${r}\` |`))!;
      const claimed = row.split('|').at(-2)!.trim();
      const urls = [...text(f, `regions/${r}/deploy.sh`).matchAll(/DATABASE_URL "postgres:\/\/[^@]+@([^/]+)\//g)].map((m) => m[1]!);
      expect(urls.length, r).toBeGreaterThan(0);
      for (const u of urls) expect(claimed, `${r}: README says ${claimed}, deploy.sh writes ${u}`).toContain(u);
      if (r === 'eu-west') {
        expect(row).toMatch(/read-only for the app/);
        expect(text(f, `regions/${r}/logical/subscription.psql`)).toMatch(/^ALTER ROLE :"app_user" IN DATABASE :"app_db" SET default_transaction_read_only = on;$/m);
        expect(text(f, `regions/${r}/logical/subscription.psql`)).toMatch(/\\set app_user app\n/);
      } else expect(row).not.toMatch(/read-only/);
    }
    expect(readme).not.toMatch(/send writes to the primary region/);
    expect(readme).toContain('RESET default_transaction_read_only');
  });
});

describe("RUNBOOK.md's patronictl commands authenticate", () => {
  it('hosts + patroni: every patronictl runs with the Patroni unit\'s EnvironmentFile (REST API credentials)', () => {
    const f = files({
      version: 1,
      tier: 'multi-server',
      platform: 'hosts',
      database: { ha: 'patroni' },
      storage: { kind: 'nfs', nfsServer: '10.0.0.40' },
      hosts: [
        { name: 'lb1', address: '10.0.0.11', roles: ['lb', 'app'] },
        { name: 'lb2', address: '10.0.0.12', roles: ['lb', 'app'] },
        { name: 'db1', address: '10.0.0.21', roles: ['db', 'etcd'] },
        { name: 'db2', address: '10.0.0.22', roles: ['db', 'etcd'] },
        { name: 'db3', address: '10.0.0.23', roles: ['db', 'etcd'] },
      ],
    } as SpecInput);
    const unit = text(f, 'hosts/db1/etc/systemd/system/patroni.service');
    const envFile = /^EnvironmentFile=-?(\S+)$/m.exec(unit)?.[1];
    expect(envFile, unit).toBeTruthy();
    const runbook = text(f, 'RUNBOOK.md');
    const uses = runbook.split('\n').filter((l) => /^ssh .*patronictl/.test(l));
    expect(uses.length).toBeGreaterThanOrEqual(2);
    for (const l of uses) expect(l, l).toContain(`systemd-run --quiet --pipe --wait --collect -p EnvironmentFile=${envFile} patronictl -c /etc/patroni/patroni.yml`);
    // Patroni 3.0.2: failover --force needs --candidate
    expect(runbook).toMatch(/patronictl -c \/etc\/patroni\/patroni\.yml failover --candidate db2 --force/);
    // deploy.sh writes the REST API credentials into that file
    const deploy = text(f, 'deploy.sh');
    expect(deploy).toMatch(new RegExp(`PATRONI_RESTAPI_USERNAME[\\s\\S]*install_env ${envFile!.replace(/[.]/g, '\\.')}`));
  });
});
