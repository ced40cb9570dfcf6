import { describe, expect, it } from 'vitest';
import { SpecError, type Issue } from '../../src/errors.js';
import { TIER_PRESETS } from '../../src/spec/presets.js';
import { checkRules, deepMerge, resolveSpec, type Layer } from '../../src/spec/resolve.js';
import { specSchema, type Spec, type SpecInput } from '../../src/spec/schema.js';

const file = (values: Record<string, unknown>): Layer => ({ source: 'file', values });
const flags = (values: Record<string, unknown>, flagOf: Record<string, string> = {}): Layer => ({ source: 'flags', values, flagOf });
const answers = (values: Record<string, unknown>): Layer => ({ source: 'answers', values });

/** The issues of the SpecError that fn throws (fails the test when it does not throw one). */
function issuesOf(fn: () => unknown): Issue[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error('expected a SpecError, nothing was thrown');
}

/** A spec that passes every rule, to change one field of. */
const base = (over: SpecInput = {}): Spec => specSchema.parse(deepMerge({}, over as Record<string, unknown>));

const inventory = {
  lb1: { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  app1: { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  app2: { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  db1: { name: 'db1', address: '10.0.2.10', roles: ['db'] },
  db2: { name: 'db2', address: '10.0.2.11', roles: ['db'] },
  db3: { name: 'db3', address: '10.0.2.12', roles: ['db'] },
} as const;
type H = { name: string; address: string; roles: readonly string[]; region?: string };
const hostsSpec = (hosts: H[], over: Record<string, unknown> = {}) =>
  file(deepMerge({ tier: 'multi-server', platform: 'hosts', storage: 'nfs', database: { ha: 'streaming' }, hosts }, over));

describe('presets per tier', () => {
  it('version: 1 alone is the single-server tier: compose, 2 replicas, one database, local storage, nginx', () => {
    const { spec, warnings } = resolveSpec([file({ version: 1 })]);
    expect(spec).toMatchObject({ version: 1, name: 'home-registry', tier: 'single-server', platform: 'compose' });
    expect(spec.app.replicas).toBe(2);
    expect(spec.database.ha).toBe('none');
    expect(spec.storage.kind).toBe('local');
    expect(spec.loadBalancer).toMatchObject({ kind: 'nginx', tls: 'none', httpPort: 80 });
    expect(warnings).toEqual([]);
  });

  it('an empty layer list gives the same spec as version: 1', () => {
    expect(resolveSpec([]).spec).toEqual(resolveSpec([file({ version: 1 })]).spec);
  });

  it('multi-server: swarm, 3 replicas, Patroni with 2 standbys, GlusterFS (no single server)', () => {
    const { spec } = resolveSpec([file({ tier: 'multi-server' })]);
    expect(spec.platform).toBe('swarm');
    expect(spec.app.replicas).toBe(3);
    expect(spec.database).toMatchObject({ ha: 'patroni', replicas: 2, etcdMembers: 3 });
    expect(spec.storage.kind).toBe('glusterfs');
  });

  it('multi-region: swarm, 3 replicas, patroni with 2 standbys, GlusterFS, two regions with one primary', () => {
    const { spec } = resolveSpec([file({ tier: 'multi-region' })]);
    expect(spec.platform).toBe('swarm');
    expect(spec.app.replicas).toBe(3);
    expect(spec.database).toMatchObject({ ha: 'patroni', replicas: 2 });
    expect(spec.storage.kind).toBe('glusterfs');
    expect(spec.regions.map((r) => [r.name, r.primary])).toEqual([
      ['us-east', true],
      ['eu-west', false],
    ]);
  });

  it('every preset resolves on its own without errors', () => {
    for (const tier of Object.keys(TIER_PRESETS)) expect(() => resolveSpec([file({ tier })])).not.toThrow();
  });

  it('the tier chosen by a later layer picks the preset', () => {
    const { spec } = resolveSpec([file({ tier: 'single-server' }), flags({ tier: 'multi-server' }, { tier: '--tier' })]);
    expect(spec.app.replicas).toBe(3);
    expect(spec.platform).toBe('swarm');
  });
});

describe('layer precedence: answers > flags > file > preset', () => {
  it('file beats preset, key by key (other preset keys stay)', () => {
    const { spec } = resolveSpec([file({ tier: 'multi-server', app: { replicas: 5 } })]);
    expect(spec.app.replicas).toBe(5);
    expect(spec.database.ha).toBe('patroni');
  });

  it('flags beat the file; answers beat flags', () => {
    const layers = [file({ loadBalancer: { kind: 'haproxy', policy: 'round-robin' }, app: { port: 9000 } }), flags({ loadBalancer: { kind: 'caddy' } }, { 'loadBalancer.kind': '--lb' })];
    const a = resolveSpec(layers).spec;
    expect(a.loadBalancer.kind).toBe('caddy');
    expect(a.loadBalancer.policy).toBe('round-robin');
    expect(a.app.port).toBe(9000);
    const b = resolveSpec([...layers, answers({ loadBalancer: { kind: 'nginx' } })]).spec;
    expect(b.loadBalancer.kind).toBe('nginx');
    expect(b.loadBalancer.policy).toBe('round-robin');
  });

  it('arrays from a later layer replace, not append', () => {
    const h1 = [inventory.lb1, inventory.app1, inventory.app2, inventory.db1, inventory.db2];
    const h2 = [inventory.lb1, inventory.app1, inventory.app2, inventory.db1, inventory.db3];
    const { spec } = resolveSpec([hostsSpec(h1), answers({ hosts: h2 })]);
    expect(spec.hosts.map((h) => h.name)).toEqual(['lb1', 'app1', 'app2', 'db1', 'db3']);
  });

  it('undefined in a later layer does not erase an earlier value', () => {
    expect(deepMerge({ a: 1, b: { c: 2 } }, { a: undefined, b: { c: undefined, d: 3 } })).toEqual({ a: 1, b: { c: 2, d: 3 } });
  });

  it('storage given as a string is short for {kind}', () => {
    expect(resolveSpec([file({ storage: 'local' })]).spec.storage.kind).toBe('local');
  });

  it('platform hosts takes app replicas and database standbys from the inventory', () => {
    const { spec } = resolveSpec([hostsSpec([inventory.lb1, inventory.app1, inventory.app2, { ...inventory.db1 }, inventory.db2, inventory.db3], { app: { replicas: 7 } })]);
    expect(spec.app.replicas).toBe(2);
    expect(spec.database.replicas).toBe(2);
  });
});

describe('schema errors name the key, the value and the allowed form', () => {
  it('an unknown enum value lists the allowed values and names the flag it came from', () => {
    const [iss, ...rest] = issuesOf(() => resolveSpec([flags({ loadBalancer: { kind: 'apache' } }, { 'loadBalancer.kind': '--lb' })]));
    expect(rest).toEqual([]);
    expect(iss!.path).toBe('--lb (loadBalancer.kind)');
    expect(iss!.message).toContain('"apache"');
    expect(iss!.message).toContain('nginx | haproxy | caddy');
  });

  it('a port out of range', () => {
    const [iss] = issuesOf(() => resolveSpec([file({ app: { port: 70000 } })]));
    expect(iss!.path).toBe('app.port');
    expect(iss!.message).toMatch(/70000.*1 to 65535/);
  });

  it('a wrong type', () => {
    const [iss] = issuesOf(() => resolveSpec([file({ app: { port: '80' } })]));
    expect(iss!.path).toBe('app.port');
    expect(iss!.message).toMatch(/"80".*wrong type.*number/);
  });

  it('unknown keys at the top and nested name the key', () => {
    const top = issuesOf(() => resolveSpec([file({ colour: 'blue' })]));
    expect(top).toHaveLength(1);
    expect(top[0]!.message).toMatch(/unknown key "colour"/);
    const nested = issuesOf(() => resolveSpec([file({ database: { hа: 'patroni' } })])); // Cyrillic "а": a look-alike typo
    expect(nested[0]!.path).toBe('database');
    expect(nested[0]!.message).toContain('unknown key');
  });

  it.each([
    ['name', 'a;b', 'lowercase letters'],
    ['name', 'Home', 'lowercase letters'],
    ['domain', 'evil.com\nserver {', 'fully qualified domain'],
    ['domain', 'a b.example.com', 'fully qualified domain'],
    ['domain', 'x.example.com}', 'fully qualified domain'],
    ['app.healthPath', '/health;rm', 'URL path'],
    ['app.healthPath', 'health', 'URL path'],
    ['app.image', 'nginx latest', 'container image'],
    ['app.image', 'Ghcr.io/x/y', 'container image'],
    ['loadBalancer.certFile', '/etc/../shadow', 'absolute path'],
    ['database.name', 'drop table', 'SQL identifier'],
    ['database.user', 'app"; --', 'SQL identifier'],
    ['loadBalancer.acmeEmail', 'me@x.com\n', 'e-mail'],
  ])('%s = %j is refused (%s)', (key, value, form) => {
    const values: Record<string, unknown> = {};
    const ks = key.split('.');
    let cur = values;
    for (const k of ks.slice(0, -1)) cur = (cur[k] = {}) as Record<string, unknown>;
    cur[ks.at(-1)!] = value;
    const iss = issuesOf(() => resolveSpec([file(values)]));
    const mine = iss.find((i) => i.path === key);
    expect(mine, JSON.stringify(iss)).toBeDefined();
    expect(mine!.message).toContain(form);
    expect(mine!.message).toContain(JSON.stringify(value).slice(0, 20));
  });

  it('a hostname with a newline in the inventory names its index', () => {
    const iss = issuesOf(() => resolveSpec([hostsSpec([inventory.lb1, inventory.app1, inventory.app2, inventory.db1, { name: 'db2\nx', address: '10.0.2.11', roles: ['db'] }])]));
    expect(iss.map((i) => i.path)).toContain('hosts.4.name');
  });

  it('every problem is reported at once, not only the first', () => {
    const iss = issuesOf(() => resolveSpec([file({ name: 'A', app: { port: 0 }, loadBalancer: { kind: 'x' } })]));
    expect(iss.map((i) => i.path).sort()).toEqual(['app.port', 'loadBalancer.kind', 'name']);
  });
});

describe('cross-field rules refuse with a path and a sentence', () => {
  const refuses = (layers: Layer[], path: string, text: RegExp) => {
    const iss = issuesOf(() => resolveSpec(layers));
    const hit = iss.find((i) => i.path === path);
    expect(hit, `expected an issue at ${path}, got ${JSON.stringify(iss)}`).toBeDefined();
    expect(hit!.message).toMatch(text);
  };

  it('multi-server on compose', () => refuses([file({ tier: 'multi-server', platform: 'compose' })], 'platform', /choose platform swarm or hosts/));
  it('names the flag when the value came from one', () =>
    refuses([file({ tier: 'multi-server' }), flags({ platform: 'compose' }, { platform: '--platform' })], '--platform (platform)', /cannot survive a server failure/));
  it('local storage across servers', () => refuses([file({ tier: 'multi-server', storage: 'local' })], 'storage.kind', /nfs, s3 or glusterfs/));
  it('no database HA on an HA tier', () => refuses([file({ tier: 'multi-region', database: { ha: 'none' } })], 'database.ha', /streaming or patroni/));
  it('fewer than 2 app replicas', () => refuses([file({ app: { replicas: 1 } })], 'app.replicas', /at least 2/));
  it('acme without a domain', () => refuses([file({ loadBalancer: { tls: 'acme' } })], 'domain', /needs a public domain/));
  it('acme for nginx or HAProxy on swarm (their certificate is a Swarm secret; Caddy obtains its own)', () => {
    for (const kind of ['nginx', 'haproxy']) refuses([file({ tier: 'multi-server', platform: 'swarm', domain: 'shop.example.com', loadBalancer: { kind, tls: 'acme' } })], 'loadBalancer.tls', /tls files .* or loadBalancer\.kind caddy/);
  });
  it('HTTP and HTTPS on one port', () => refuses([file({ loadBalancer: { tls: 'files', httpPort: 8443, httpsPort: 8443 } })], 'loadBalancer.httpsPort', /different ports/));
  it('the stats port on the HTTP port', () => refuses([file({ loadBalancer: { statsPort: 80 } })], 'loadBalancer.statsPort', /already used/));
  it('the stats port on the HTTPS port when TLS is on', () => refuses([file({ loadBalancer: { tls: 'files', statsPort: 443 } })], 'loadBalancer.statsPort', /already used/));
  it('synchronous without standbys', () => refuses([file({ database: { synchronous: true } })], 'database.synchronous', /needs standbys/));
  it('multi-region with one region', () => refuses([file({ tier: 'multi-region', regions: [{ name: 'us-east', primary: true }] })], 'regions', /at least 2/));
  it('multi-region with no primary region', () => refuses([file({ tier: 'multi-region', regions: [{ name: 'a' }, { name: 'b' }] })], 'regions', /exactly one region/));
  it('multi-region with a region twice', () => refuses([file({ tier: 'multi-region', regions: [{ name: 'a', primary: true }, { name: 'a' }] })], 'regions', /more than once/));

  describe('inventory (platform hosts)', () => {
    const ok = [inventory.lb1, inventory.app1, inventory.app2, inventory.db1, inventory.db2];
    it('a valid inventory passes', () => expect(() => resolveSpec([hostsSpec(ok)])).not.toThrow());
    it('hosts needs an inventory', () => refuses([file({ platform: 'hosts' })], 'hosts', /needs an inventory/));
    it('duplicate host names', () => refuses([hostsSpec([...ok, { ...inventory.db3, name: 'db1' }])], 'hosts', /"db1" appears more than once/));
    it('duplicate addresses', () => refuses([hostsSpec([...ok, { ...inventory.db3, address: '10.0.2.10' }])], 'hosts', /given to more than one host/));
    it('a role listed twice', () => refuses([hostsSpec([{ ...inventory.lb1, roles: ['lb', 'lb'] }, ...ok.slice(1)])], 'hosts.0.roles', /listed twice/));
    it('app and lb on one host and port', () =>
      refuses([hostsSpec([{ ...inventory.lb1, roles: ['lb', 'app'] }, ...ok.slice(1)], { app: { port: 80 } })], 'hosts.0', /change app.port/));
    it('a missing lb role', () => refuses([hostsSpec(ok.slice(1))], 'hosts', /no host has the role "lb"/));
    it('only one app host', () => refuses([hostsSpec([inventory.lb1, inventory.app1, inventory.db1, inventory.db2])], 'hosts', /only 1 host has the role "app"/));
    it('streaming with one db host', () => refuses([hostsSpec([inventory.lb1, inventory.app1, inventory.app2, inventory.db1])], 'hosts', /at least 2 hosts with the role "db"/));
    it('two db hosts without database HA', () =>
      refuses([hostsSpec(ok, { tier: 'single-server', database: { ha: 'none' } })], 'hosts', /database.ha is none/));
    it('patroni without etcd', () => refuses([hostsSpec(ok, { database: { ha: 'patroni' } })], 'hosts', /role "etcd"/));
    it('patroni with an even etcd count', () =>
      refuses([hostsSpec([inventory.lb1, inventory.app1, inventory.app2, { ...inventory.db1, roles: ['db', 'etcd'] }, { ...inventory.db2, roles: ['db', 'etcd'] }], { database: { ha: 'patroni' } })], 'hosts', /use 3 or 5/));
    it('glusterfs with one or two storage hosts (replica 2 splits the brain)', () => {
      refuses([hostsSpec([...ok, { name: 's1', address: '10.0.3.1', roles: ['storage'] }], { storage: 'glusterfs' })], 'hosts', /at least 3 hosts with the role "storage"/);
      refuses([hostsSpec([...ok, { name: 's1', address: '10.0.3.1', roles: ['storage'] }, { name: 's2', address: '10.0.3.2', roles: ['storage'] }], { storage: 'glusterfs' })], 'hosts', /found 2/);
    });
    it('local storage with two app hosts', () =>
      refuses([hostsSpec([inventory.lb1, inventory.app1, inventory.app2, inventory.db1], { tier: 'single-server', database: { ha: 'none' }, storage: 'local' })], 'storage.kind', /2 app hosts need them/));
    it('multi-region hosts must name a known region', () => {
      const regions = [{ name: 'us-east', primary: true }, { name: 'eu-west' }];
      const hosts = [inventory.lb1, inventory.app1, inventory.app2, inventory.db1, inventory.db2].map((h, i) => ({ ...h, region: i === 0 ? 'mars' : 'us-east' }));
      refuses([hostsSpec(hosts, { tier: 'multi-region', regions, storage: 's3' })], 'hosts.0.region', /"mars" is not one of the regions/);
      const noRegion = hosts.map((h, i) => (i === 1 ? { ...h, region: undefined } : h));
      refuses([hostsSpec(noRegion, { tier: 'multi-region', regions, storage: 's3' })], 'hosts.1.region', /is missing for host "app1"/);
    });
  });
});

describe('warnings (accepted, but said)', () => {
  it('regions outside multi-region are ignored with a warning', () => {
    const { warnings } = resolveSpec([file({ regions: [{ name: 'a', primary: true }] })]);
    expect(warnings.join('\n')).toMatch(/regions are only used by tier multi-region/);
  });
  it('an inventory outside platform hosts is ignored with a warning', () => {
    const { warnings } = resolveSpec([file({ hosts: [inventory.lb1] })]);
    expect(warnings.join('\n')).toMatch(/only used by platform hosts/);
  });
  it('synchronous replication with one standby', () => {
    const { warnings } = resolveSpec([file({ tier: 'multi-server', database: { synchronous: true, replicas: 1 } })]);
    expect(warnings.join('\n')).toMatch(/single standby/);
    expect(resolveSpec([file({ tier: 'multi-server', database: { synchronous: true, replicas: 2 } })]).warnings).toEqual([]);
  });
  it('a single etcd host for patroni', () => {
    const { warnings } = resolveSpec([hostsSpec([inventory.lb1, inventory.app1, inventory.app2, { ...inventory.db1, roles: ['db', 'etcd'] }, inventory.db2], { database: { ha: 'patroni' } })]);
    expect(warnings.join('\n')).toMatch(/single etcd host/);
  });
});

describe('addresses', () => {
  it('a dotted number that is not an IPv4 address is refused, not taken for a host name (10.0.1.300)', () => {
    const r = specSchema.safeParse({ version: 1, platform: 'hosts', hosts: [{ name: 'db1', address: '10.0.1.300', roles: ['db'] }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/hosts.*address|IPv4 address or a lowercase DNS name/);
    for (const ok of ['10.0.1.30', 'db1.internal', 'db1', '1db.example.com']) {
      expect(specSchema.safeParse({ version: 1, platform: 'hosts', hosts: [{ name: 'db1', address: ok, roles: ['db'] }] }).success, ok).toBe(true);
    }
  });
  it('platform hosts refuses a DNS name as an inventory address (listeners, pg_hba and nftables need the IP), naming the key', () => {
    const issues = issuesOf(() => resolveSpec([hostsSpec([inventory.lb1, { ...inventory.app1, address: 'app1.internal' }, inventory.app2, inventory.db1, inventory.db2])]));
    expect(issues).toEqual([{ path: 'hosts.1.address', message: expect.stringMatching(/"app1\.internal" is a DNS name: .*must be the host.s IPv4 address/) }]);
  });
  it('an IPv6 address is refused with a message that says IPv6 is not supported', () => {
    const issues = issuesOf(() => resolveSpec([hostsSpec([inventory.lb1, { ...inventory.app1, address: 'fd00::10' }, inventory.app2, inventory.db1, inventory.db2])]));
    expect(issues.map((i) => `${i.path}: ${i.message}`).join('\n')).toMatch(/hosts\.1\.address: .*IPv6 is not supported/);
  });
});

describe('checkRules directly', () => {
  it('a default spec has no errors and no warnings', () => {
    expect(checkRules(base())).toMatchObject({ errors: [], warnings: [] });
  });
  it('uses the flag name given for a key', () => {
    const { errors } = checkRules(base({ app: { replicas: 1 } }), { 'app.replicas': '--app-replicas' });
    expect(errors).toEqual([{ path: '--app-replicas (app.replicas)', message: expect.stringMatching(/at least 2/) }]);
  });
});
