/**
 * Numbers and shapes: out-of-range numbers and inventories that cannot form the topology are refused
 * (SpecError naming the key; exit 2 from the CLI with nothing written), and every inventory that is
 * accepted has the shape the renderers rely on.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { ROLES } from '../../src/spec/schema.js';
import { cleanupTempDirs, hashTree, runCli, tempDir } from '../helpers/cli.js';
import { countCase, fcParams, printCaseCounts, ranCases } from './support.js';

const base = { version: 1, tier: 'single-server', platform: 'compose' };

function refusal(values: Record<string, unknown>): SpecError | null {
  try {
    resolveSpec([{ source: 'file', values: structuredClone(values) }]);
    return null;
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
}

const paths = (e: SpecError) => e.issues.map((i) => /\(([^)]+)\)$/.exec(i.path)?.[1] ?? i.path);

const notAPort = fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65536 }), fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)), fc.string({ maxLength: 6 }).filter((s) => !/^[0-9]+$/.test(s)), fc.constant(null), fc.constant(true), fc.constant(Number.MAX_SAFE_INTEGER + 2));
const PORT_KEYS: Array<[string, string]> = [
  ['app', 'port'],
  ['loadBalancer', 'httpPort'],
  ['loadBalancer', 'httpsPort'],
  ['loadBalancer', 'statsPort'],
  ['database', 'port'],
];

describe('numbers and shapes', () => {
  it('a port outside 1-65535 (or not a whole number) is refused, naming the key', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PORT_KEYS), notAPort, ([sect, key], v) => {
        countCase('ports outside 1-65535 refused');
        const e = refusal({ ...base, [sect]: { [key]: v } });
        expect(e, `${sect}.${key} = ${JSON.stringify(v)} was accepted`).not.toBeNull();
        expect(paths(e!)).toContain(`${sect}.${key}`);
      }),
      fcParams(),
    );
  });

  it('every port from 1 to 65535 is a valid app port on its own', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }).filter((p) => ![80, 8404].includes(p)), (p) => {
        countCase('ports 1-65535 accepted');
        expect(refusal({ ...base, app: { port: p } })).toBeNull();
      }),
      fcParams(),
    );
  });

  it('replicas 0, negative, fractional or 10 000 are refused, naming app.replicas', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.constant(10_000), fc.integer({ max: 0 }), fc.integer({ min: 1001 }), fc.double({ min: 1.01, max: 5, noNaN: true }).filter((d) => !Number.isInteger(d))), (n) => {
        countCase('app.replicas out of range refused');
        const e = refusal({ ...base, app: { replicas: n } });
        expect(e, `app.replicas ${n} accepted`).not.toBeNull();
        expect(paths(e!)).toContain('app.replicas');
      }),
      fcParams(),
    );
  });

  // A valid inventory, then up to 3 random breakages: whatever is accepted must form the topology.
  const validHosts = (db: string) => [
    { name: 'lb1', address: '10.0.0.1', roles: ['lb'] },
    { name: 'app1', address: '10.0.0.2', roles: ['app'] },
    { name: 'app2', address: '10.0.0.3', roles: ['app'] },
    { name: 'db1', address: '10.0.0.4', roles: db === 'patroni' ? ['db', 'etcd'] : ['db'] },
    ...(db === 'none' ? [] : [{ name: 'db2', address: '10.0.0.5', roles: db === 'patroni' ? ['db', 'etcd'] : ['db'] }]),
    ...(db === 'patroni' ? [{ name: 'e1', address: '10.0.0.6', roles: ['etcd'] }] : []),
    { name: 'nas1', address: '10.0.3.10', roles: ['storage'] },
  ];
  const mutation = fc.record({ kind: fc.constantFrom('dupName', 'dupAddr', 'noRoles', 'dropHost', 'addRole', 'dropRole', 'appOnLb', 'cloneHost'), i: fc.nat(20), j: fc.nat(20), role: fc.constantFrom(...ROLES) });
  const inventorySpec = fc.record({
    db: fc.constantFrom('none', 'streaming', 'patroni'),
    tier: fc.constantFrom('single-server', 'multi-server'),
    storage: fc.constantFrom('nfs', 'nfs', 'local', 'glusterfs'),
    appPort: fc.constantFrom(8210, 8210, 80, 443, 8404),
    tls: fc.constantFrom('none', 'files'),
    mutations: fc.array(mutation, { maxLength: 3 }),
  }).map((s) => {
    const hosts = validHosts(s.db).map((h) => ({ ...h, roles: [...h.roles] }));
    for (const m of s.mutations) {
      const a = hosts[m.i % hosts.length]!;
      const b = hosts[m.j % hosts.length]!;
      if (m.kind === 'dupName') a.name = b.name;
      else if (m.kind === 'dupAddr') a.address = b.address;
      else if (m.kind === 'noRoles') a.roles = [];
      else if (m.kind === 'dropHost') hosts.splice(m.i % hosts.length, 1);
      else if (m.kind === 'addRole' && !a.roles.includes(m.role)) a.roles.push(m.role);
      else if (m.kind === 'dropRole') a.roles = a.roles.filter((r) => r !== m.role);
      else if (m.kind === 'appOnLb') hosts.filter((h) => h.roles.includes('lb')).forEach((h) => h.roles.includes('app') || h.roles.push('app'));
      else if (m.kind === 'cloneHost') hosts.push({ ...a, roles: [...a.roles] });
    }
    return { ...s, hosts };
  });

  it('an accepted inventory forms the topology: unique names and addresses, roles on every host, lb/app/db present, no port clash', () => {
    let accepted = 0;
    fc.assert(
      fc.property(inventorySpec, (s) => {
        countCase('inventory: accepted => topology');
        const values = { version: 1, tier: s.tier, platform: 'hosts', database: { ha: s.db }, storage: { kind: s.storage }, app: { port: s.appPort }, loadBalancer: { tls: s.tls }, hosts: s.hosts };
        const e = refusal(values);
        if (e) {
          expect(e.issues.length).toBeGreaterThan(0);
          for (const i of e.issues) expect(i.message.length).toBeGreaterThan(10);
          return;
        }
        accepted++;
        const hs = s.hosts;
        const count = (r: string) => hs.filter((h) => h.roles.includes(r as never)).length;
        expect(new Set(hs.map((h) => h.name)).size).toBe(hs.length);
        expect(new Set(hs.map((h) => h.address)).size).toBe(hs.length);
        for (const h of hs) expect(h.roles.length).toBeGreaterThan(0);
        expect(count('lb')).toBeGreaterThan(0);
        expect(count('app')).toBeGreaterThanOrEqual(2);
        if (s.db === 'none') expect(count('db')).toBe(1);
        else expect(count('db')).toBeGreaterThanOrEqual(2);
        if (s.db === 'patroni') expect(count('etcd') % 2).toBe(1);
        const lbPorts = [80, 8404, ...(s.tls === 'none' ? [] : [443])];
        for (const h of hs) if (h.roles.includes('app') && h.roles.includes('lb')) expect(lbPorts).not.toContain(s.appPort);
      }),
      fcParams(Math.max(150, 10 * Number(process.env.FC_NUM_RUNS ?? 0))),
    );
    console.log(`inventory property: ${accepted} accepted inventories checked`);
    expect(accepted).toBeGreaterThan(0);
  });

  it.each([
    ['a duplicate host name', { hosts: [{ name: 'a1', address: '10.0.0.1', roles: ['app'] }, { name: 'a1', address: '10.0.0.2', roles: ['app'] }] }, 'hosts'],
    ['a duplicate address', { hosts: [{ name: 'a1', address: '10.0.0.1', roles: ['app'] }, { name: 'a2', address: '10.0.0.1', roles: ['app'] }] }, 'hosts'],
    ['a host with no role', { hosts: [{ name: 'a1', address: '10.0.0.1', roles: [] }] }, 'hosts.0.roles'],
  ])('%s is refused', (_what, extra, key) => {
    const good = [
      { name: 'lb1', address: '10.0.1.1', roles: ['lb'] },
      { name: 'db1', address: '10.0.1.2', roles: ['db'] },
      { name: 'app9', address: '10.0.1.3', roles: ['app'] },
    ];
    const e = refusal({ version: 1, platform: 'hosts', storage: 'nfs', hosts: [...extra.hosts, ...good] });
    expect(e).not.toBeNull();
    expect(paths(e!)).toContain(key);
  });

  afterAll(async () => {
    printCaseCounts('numbers');
    ranCases.clear();
    await cleanupTempDirs();
  });
});

const inv = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db'] },
];
const hostsSpec = { version: 1, platform: 'hosts', storage: 'nfs' };

/** Bad specs through the built CLI: exit 2, the key named, and the output folder byte-for-byte as before. */
const CLI_CASES: Array<[string, Record<string, unknown>, string]> = [
  ['app.port 0', { version: 1, app: { port: 0 } }, 'app.port'],
  ['loadBalancer.httpPort 65536', { version: 1, loadBalancer: { httpPort: 65536 } }, 'loadBalancer.httpPort'],
  ['app.replicas 0', { version: 1, app: { replicas: 0 } }, 'app.replicas'],
  ['app.replicas 10000', { version: 1, app: { replicas: 10000 } }, 'app.replicas'],
  ['duplicate host names', { ...hostsSpec, hosts: [...inv, { name: 'app1', address: '10.0.1.12', roles: ['app'] }] }, 'app1'],
  ['duplicate addresses', { ...hostsSpec, hosts: [...inv, { name: 'app3', address: '10.0.1.10', roles: ['app'] }] }, '10.0.1.10'],
  ['a host with no role', { ...hostsSpec, hosts: [...inv, { name: 'app3', address: '10.0.1.12', roles: [] }] }, 'hosts.4.roles'],
  ['app port = LB port on the same host', { ...hostsSpec, app: { port: 80 }, hosts: [...inv.slice(1), { name: 'lb1', address: '10.0.1.5', roles: ['lb', 'app'] }] }, 'port 80'],
  ['no db host', { ...hostsSpec, hosts: inv.filter((h) => h.name !== 'db1') }, '"db"'],
  ['patroni without etcd', { ...hostsSpec, tier: 'multi-server', database: { ha: 'patroni' }, hosts: [...inv, { name: 'db2', address: '10.0.2.11', roles: ['db'] }] }, 'etcd'],
  ['multi-server on compose', { version: 1, tier: 'multi-server', platform: 'compose' }, 'platform'],
];

describe('numbers and shapes through the CLI: exit 2 before anything is written', () => {
  it.each(CLI_CASES)('%s', async (_what, spec, mention) => {
    countCase('CLI exit 2, folder unchanged');
    const dir = await tempDir('i7-shapes');
    await fs.writeFile(path.join(dir, 'ha-gen.yaml'), stringify(spec));
    // An existing bundle folder with a user file: it must stay exactly as it is.
    await fs.mkdir(path.join(dir, 'ha-bundle'));
    await fs.writeFile(path.join(dir, 'ha-bundle', 'notes.txt'), 'mine\n');
    const before = await hashTree(dir);
    const r = await runCli(['generate'], { cwd: dir });
    expect(r.code, r.output).toBe(2);
    expect(r.stderr).toContain(mention);
    expect(await hashTree(dir)).toEqual(before);
  });

  afterAll(async () => {
    await cleanupTempDirs();
  });
});
