/** The plan model: availability arithmetic, failures per topology, warnings, backup rules. */
import { describe, expect, it } from 'vitest';
import { specSchema, type SpecInput } from '../../src/spec/schema.js';
import { A_PROCESS, A_SERVER, atLeast, buildPlan, downtimeText } from '../../src/plan/index.js';
import { backupIssues, checkRules } from '../../src/spec/rules.js';
import { planMarkdown, planMermaid, planText } from '../../src/plan/format.js';
import { deploymentOf } from '../../src/model/index.js';

const parse = (v: SpecInput) => specSchema.parse(v);
const inv = (extra: Array<{ name: string; address: string; roles: string[] }> = []) => [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'lb2', address: '10.0.1.6', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  ...extra,
] as SpecInput['hosts'];

describe('availability arithmetic', () => {
  it('k-of-n matches the closed form for a 2-of-3 quorum', () => {
    for (const a of [0.9, 0.99, 0.994005]) expect(atLeast(3, 2, a)).toBeCloseTo(3 * a ** 2 - 2 * a ** 3, 12);
    expect(atLeast(5, 3, 0.5)).toBeCloseTo(0.5, 12);
  });

  it('compose: one server in series with each process layer', () => {
    const plan = buildPlan(parse({ version: 1 }));
    const p = A_PROCESS;
    const expected = A_SERVER * p * (1 - (1 - p) ** 2) * p;
    expect(plan.availability.composite).toBeCloseTo(expected * 100, 4);
    expect(plan.availability.guide).toBe('99%');
    expect(plan.availability.formula).toMatch(/1 − \(1 − a\)\^2/);
  });

  it('more app replicas never lower the estimate; an HA database raises it', () => {
    const two = buildPlan(parse({ version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' }, storage: 'glusterfs', app: { replicas: 2 } })).availability.composite;
    const five = buildPlan(parse({ version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' }, storage: 'glusterfs', app: { replicas: 5 } })).availability.composite;
    expect(five).toBeGreaterThanOrEqual(two);
    const none = buildPlan(parse({ version: 1, platform: 'swarm', database: { ha: 'none' }, storage: 'glusterfs' })).availability.composite;
    expect(two).toBeGreaterThan(none);
  });

  it('downtime text', () => {
    expect(downtimeText(0.99)).toBe('~3.7 days/year');
    expect(downtimeText(0.999)).toBe('~8.8 hours/year');
    expect(downtimeText(0.9999)).toBe('~53 minutes/year');
  });
});

describe('failures survived', () => {
  it('compose does not survive losing its server; the app survives an instance', () => {
    const f = buildPlan(parse({ version: 1 })).failures;
    expect(f.find((x) => x.failure === 'a whole server is lost')?.survived).toBe('no');
    expect(f.find((x) => x.failure === 'an app instance crashes or hangs')?.survived).toBe('yes');
    expect(f.find((x) => x.failure === 'the database server is lost')?.survived).toBe('manual');
  });

  it('hosts with 2 LBs (DNS in front), patroni on 3 etcd and glusterfs: only the front door needs a person, and the RTO follows the Patroni timing', () => {
    const spec = parse({
      version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni' }, storage: 'glusterfs',
      hosts: inv([
        { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd', 'storage'] },
        { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd', 'storage'] },
        { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd'] },
      ]),
    });
    const plan = buildPlan(spec, { patroni: { ttl: 20, loopWait: 5, retryTimeout: 5, maximumLagOnFailover: 1048576 } });
    const server = plan.failures.find((x) => x.failure === 'a whole server is lost')!;
    // Two lb hosts without a floating address: clients that resolved the lost one fail until DNS moves them.
    expect(server.survived).toBe('manual');
    expect(server.how).toMatch(/losing lb1: clients: .*DNS/);
    expect(server.how).toMatch(/losing lb2/);
    expect(plan.hostLosses.filter((l) => l.survived !== 'yes').map((l) => l.host)).toEqual(['lb1', 'lb2']);
    expect(plan.recovery.patroni?.failoverSeconds).toBe(28);
  });

  it('one lb host and one NFS server are named as the single points of failure', () => {
    const spec = parse({ version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'streaming' }, storage: 'nfs', hosts: inv([{ name: 'db1', address: '10.0.2.10', roles: ['db'] }, { name: 'db2', address: '10.0.2.11', roles: ['db'] }, { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] }])!.filter((h) => h.name !== 'lb2') });
    const plan = buildPlan(spec);
    const server = plan.failures.find((x) => x.failure === 'a whole server is lost')!;
    expect(server.survived).toBe('no');
    expect(server.how).toMatch(/losing lb1: .*losing nfs1: /);
    // the streaming primary needs a person; its standby does not matter
    expect(plan.hostLosses.find((l) => l.host === 'db1')?.survived).toBe('manual');
    expect(plan.hostLosses.find((l) => l.host === 'db2')?.survived).toBe('yes');
    expect(plan.warnings.join('\n')).toMatch(/one load balancer host/);
  });
});

describe('warnings', () => {
  it('plan reports the rules\' warnings and costs (spec/rules.ts), worded once', () => {
    const spec = parse({
      version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni', synchronous: true },
      hosts: inv([{ name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd'] }, { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd', 'storage'] }]),
      storage: 'nfs',
    });
    const w = buildPlan(spec).warnings;
    const r = checkRules(spec);
    expect(w).toEqual([...r.warnings, ...r.costs]);
    expect(w.join('\n')).toMatch(/synchronous replication with a single standby/);
    expect(w.join('\n')).toMatch(/backup.repository local with 2 database servers/);
  });

  it('none of those for a sound inventory', () => {
    const spec = parse({
      version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'patroni', synchronous: true }, storage: 'glusterfs', backup: { repository: 's3' },
      hosts: inv([
        { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd', 'storage'] },
        { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd', 'storage'] },
        { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd'] },
      ]),
    });
    expect(buildPlan(spec).warnings.filter((w) => /etcd|storage local|synchronous/.test(w))).toEqual([]);
  });
});

describe('backup rules', () => {
  it('repository s3 needs the bundle\'s MinIO', () => {
    expect(backupIssues(parse({ version: 1, backup: { repository: 's3' } }))[0]?.path).toBe('backup.repository');
    expect(backupIssues(parse({ version: 1, storage: 's3', backup: { repository: 's3' } }))).toEqual([]);
  });

  it('rejects a bad backup time in the schema', () => {
    expect(specSchema.safeParse({ version: 1, backup: { time: '25:00' } }).success).toBe(false);
    expect(specSchema.safeParse({ version: 1, backup: { time: '01:30; rm -rf /' } }).success).toBe(false);
  });
});

describe('formats', () => {
  it('text, markdown and mermaid name every host and service', () => {
    const spec = parse({ version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'streaming' }, storage: 'nfs', hosts: inv([{ name: 'db1', address: '10.0.2.10', roles: ['db'] }, { name: 'db2', address: '10.0.2.11', roles: ['db'] }]) });
    const plan = buildPlan(spec);
    const text = planText(plan);
    const md = planMarkdown(plan);
    const mm = planMermaid(plan);
    for (const h of deploymentOf(spec).hosts) {
      expect(text).toContain(h.name);
      expect(md).toContain(h.name);
      for (const s of h.services) expect(text).toContain(s.name);
    }
    expect(mm.startsWith('flowchart TD')).toBe(true);
    expect(mm).toMatch(/clients --> lb1__nginx/);
    expect(mm).toMatch(/db1__postgresql_17_main -- WAL --> db2__postgresql_17_main/);
    expect(md).toMatch(/```mermaid/);
  });

  it('a large inventory: identical hosts are one entry, so the diagram stays drawable and the tables short', async () => {
    const apps = Array.from({ length: 600 }, (_, i) => ({ name: `app${i + 3}`, address: `10.0.${3 + Math.floor(i / 200)}.${(i % 200) + 1}`, roles: ['app'] }));
    const spec = parse({ version: 1, tier: 'multi-server', platform: 'hosts', database: { ha: 'streaming' }, storage: 'nfs', hosts: inv([{ name: 'db1', address: '10.0.2.10', roles: ['db'] }, { name: 'db2', address: '10.0.2.11', roles: ['db'] }, ...apps]) });
    const plan = buildPlan(spec);
    const mm = planMermaid(plan);
    const md = planMarkdown(plan);
    // GitHub draws Mermaid up to 50 000 characters
    expect(mm.length).toBeLessThan(5000);
    expect(mm).toMatch(/subgraph app1_and_601\["602 hosts: app1 … app602"\]/);
    expect(mm).toMatch(/lb1__nginx --> app1_and_601__/);
    // the hosts that differ are still shown one by one
    expect(mm).toMatch(/subgraph db2\["db2 10\.0\.2\.11"\]/);
    expect(md).toMatch(/^\| 602 hosts: app1 … app602 \(addresses in the spec file\) \| /m);
    expect(md).not.toMatch(/^\| app\d+ \(/m);
    // and the bundle README's file table: one row for the app unit of 602 hosts
    const { render } = await import('../../src/render/index.js');
    const readme = render(spec, { version: '0', specFile: 'ha-gen.yaml' }).files.get('README.md')!.contents;
    expect(readme.length).toBeLessThan(40_000);
    expect(readme).toMatch(/^\| `hosts\/<host>\/etc\/systemd\/system\/[a-z-]+-app\.service` \| systemd unit on 602 hosts \(app1, app10, …\) \|$/m);
    expect(readme).toContain('`hosts/db1/');
  });
});
