/**
 * The bundles the golden, CLI and real-tool tests render: every single-server compose combination
 * of load balancer and TLS, and one bundle for every other tier x platform the rules accept
 * (multi-server and multi-region are refused on compose), together covering every database mode
 * (none, streaming, patroni) on swarm and on hosts. Inventories stay small (3-7 hosts) so the golden
 * files stay reviewable. `values` is what a user writes in ha-gen.yaml (so tests can write it as a
 * file) and resolves with resolveSpec().
 *
 *   preset                         tier           platform  database   LB       storage  hosts
 *   compose-<lb>-tls-<tls> (x9)    single-server  compose   none       each     local    -
 *   swarm-single-server            single-server  swarm     none       nginx    local    -
 *   hosts-inventory                single-server  hosts     none       haproxy  nfs      5
 *   swarm-multi-server-streaming   multi-server   swarm     streaming  nginx    nfs      -
 *   hosts-multi-server-patroni     multi-server   hosts     patroni    haproxy  nfs      7
 *   swarm-multi-region-patroni     multi-region   swarm     patroni    haproxy  s3       - (2 regions)
 *   hosts-multi-region-streaming   multi-region   hosts     streaming  caddy    s3       6 (2 regions x 3)
 */
import { stringify } from 'yaml';
import { LB_KINDS, TLS_MODES } from '../../src/spec/schema.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import type { Spec } from '../../src/spec/schema.js';

/** A Patroni inventory the unit and property tests share: one LB, two app hosts, three db+etcd hosts. */
export const PATRONI_HOSTS: Spec['hosts'] = [
  { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
  { name: 'app1', address: '10.0.1.10', roles: ['app'] },
  { name: 'app2', address: '10.0.1.11', roles: ['app'] },
  { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd'] },
  { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd'] },
  { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd'] },
];

export interface Preset {
  id: string;
  values: Record<string, unknown>;
}

const composePresets: Preset[] = LB_KINDS.flatMap((lb) =>
  TLS_MODES.map((tls) => ({
    id: `compose-${lb}-tls-${tls}`,
    values: { version: 1, tier: 'single-server', platform: 'compose', loadBalancer: { kind: lb, tls, ...(tls === 'acme' ? { acmeEmail: 'ops@example.com' } : {}) }, ...(tls === 'none' ? {} : { domain: 'registry.example.com' }) },
  })),
);

export const PRESETS: Preset[] = [
  ...composePresets,
  { id: 'swarm-single-server', values: { version: 1, tier: 'single-server', platform: 'swarm', loadBalancer: { kind: 'nginx' } } },
  {
    id: 'hosts-inventory',
    values: {
      version: 1,
      tier: 'single-server',
      platform: 'hosts',
      storage: 'nfs',
      loadBalancer: { kind: 'haproxy' },
      hosts: [
        { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
        { name: 'app1', address: '10.0.1.10', roles: ['app'] },
        { name: 'app2', address: '10.0.1.11', roles: ['app'] },
        { name: 'db1', address: '10.0.2.10', roles: ['db'] },
        { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] },
      ],
    },
  },
  {
    id: 'swarm-multi-server-streaming',
    values: { version: 1, tier: 'multi-server', platform: 'swarm', loadBalancer: { kind: 'nginx' }, database: { ha: 'streaming' }, storage: 'nfs' },
  },
  {
    // the README's example spec
    id: 'hosts-multi-server-patroni',
    values: {
      version: 1,
      tier: 'multi-server',
      platform: 'hosts',
      loadBalancer: { kind: 'haproxy', floatingAddress: '10.0.1.4' },
      database: { ha: 'patroni', synchronous: true },
      storage: 'nfs',
      hosts: [
        { name: 'lb1', address: '10.0.1.5', roles: ['lb'] },
        { name: 'lb2', address: '10.0.1.6', roles: ['lb'] },
        { name: 'app1', address: '10.0.1.10', roles: ['app'] },
        { name: 'app2', address: '10.0.1.11', roles: ['app'] },
        { name: 'db1', address: '10.0.2.10', roles: ['db', 'etcd'] },
        { name: 'db2', address: '10.0.2.11', roles: ['db', 'etcd'] },
        { name: 'db3', address: '10.0.2.12', roles: ['db', 'etcd'] },
        { name: 'nfs1', address: '10.0.3.10', roles: ['storage'] },
      ],
    },
  },
  {
    id: 'swarm-multi-region-patroni',
    values: {
      version: 1,
      tier: 'multi-region',
      platform: 'swarm',
      loadBalancer: { kind: 'haproxy' },
      database: { ha: 'patroni' },
      storage: 's3',
      regions: [{ name: 'us-east', primary: true }, { name: 'eu-west' }],
    },
  },
  {
    // three hosts per region, roles shared: LB + app, app + database, database + MinIO
    id: 'hosts-multi-region-streaming',
    values: {
      version: 1,
      tier: 'multi-region',
      platform: 'hosts',
      loadBalancer: { kind: 'caddy' },
      database: { ha: 'streaming' },
      storage: 's3',
      regions: [{ name: 'us-east', primary: true }, { name: 'eu-west' }],
      hosts: [
        { name: 'use1', address: '10.0.1.10', roles: ['lb', 'app'], region: 'us-east' },
        { name: 'use2', address: '10.0.1.11', roles: ['app', 'db'], region: 'us-east' },
        { name: 'use3', address: '10.0.1.12', roles: ['db', 'storage'], region: 'us-east' },
        { name: 'euw1', address: '10.1.1.10', roles: ['lb', 'app'], region: 'eu-west' },
        { name: 'euw2', address: '10.1.1.11', roles: ['app', 'db'], region: 'eu-west' },
        { name: 'euw3', address: '10.1.1.12', roles: ['db', 'storage'], region: 'eu-west' },
      ],
    },
  },
];

export const preset = (id: string): Preset => {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`no preset ${id}`);
  return p;
};

export const presetSpec = (p: Preset): Spec => resolveSpec([{ source: 'file', values: structuredClone(p.values) }]).spec;

/** The preset as ha-gen.yaml text. */
export const presetYaml = (p: Preset): string => stringify(p.values);
