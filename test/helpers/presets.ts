/**
 * The bundles the golden, CLI and real-tool tests render: every single-server compose combination
 * of load balancer and TLS, a swarm stack and a hosts inventory. `values` is what a user writes in
 * ha-gen.yaml (so tests can write it as a file) and resolves with resolveSpec().
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
];

export const preset = (id: string): Preset => {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`no preset ${id}`);
  return p;
};

export const presetSpec = (p: Preset): Spec => resolveSpec([{ source: 'file', values: structuredClone(p.values) }]).spec;

/** The preset as ha-gen.yaml text. */
export const presetYaml = (p: Preset): string => stringify(p.values);
