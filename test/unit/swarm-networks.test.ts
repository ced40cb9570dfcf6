/**
 * Swarm networks agree with the model's flows: every connection the model lists between two stack
 * services has a network both are on, and the app and the load balancer share no network with etcd
 * or a Patroni member (the database tier is reached only through the endpoint the app needs).
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { render } from '../../src/render/index.js';
import { resolveSpec } from '../../src/spec/resolve.js';
import { deploymentOf, type Deployment } from '../../src/model/index.js';
import { PRESETS, presetSpec } from '../helpers/presets.js';

const CTX = { version: '0.0.0-test', specFile: 'ha-gen.yaml' };
type Stack = { services: Record<string, { networks?: string[] }>; networks: Record<string, { driver_opts?: Record<string, string> }> };

const extra = [
  { version: 1, tier: 'multi-server', platform: 'swarm', database: { ha: 'patroni' }, storage: 's3', backup: { repository: 's3' }, loadBalancer: { kind: 'haproxy', floatingAddress: '192.0.2.10' } },
  { version: 1, tier: 'single-server', platform: 'swarm', database: { ha: 'none' }, storage: 's3', backup: { repository: 's3' }, loadBalancer: { kind: 'caddy' } },
];
const specs = [
  ...PRESETS.filter((p) => p.values.platform === 'swarm').map((p) => [p.id, presetSpec(p)] as const),
  ...extra.map((v, i) => [`extra-${i + 1}`, resolveSpec([{ source: 'file', values: structuredClone(v) }]).spec] as const),
];

/** Each stack of the bundle with the deployment model it renders. */
function stacksOf(id: string, files: Map<string, { contents: string }>, dep: Deployment): Array<{ where: string; stack: Stack; dep: Deployment }> {
  const read = (prefix: string) => {
    const stack = parse(files.get(`${prefix}stack.yml`)!.contents) as Stack;
    const backup = files.get(`${prefix}stack.backup.yml`);
    // docker stack deploy -c stack.yml -c stack.backup.yml: the overlay's services join the stack
    if (backup) for (const [k, v] of Object.entries((parse(backup.contents) as Stack).services)) stack.services[k] = { ...stack.services[k], ...v, networks: [...new Set([...(stack.services[k]?.networks ?? []), ...(v.networks ?? [])])] };
    return stack;
  };
  if (dep.regions) return dep.regions.map((r) => ({ where: `${id} regions/${r.name}`, stack: read(`regions/${r.name}/`), dep: r.deployment }));
  return [{ where: id, stack: read(''), dep }];
}

describe.each(specs)('swarm networks of %s', (id, spec) => {
  const files = render(spec, CTX).files;
  const stacks = stacksOf(id, files, deploymentOf(spec));

  it.each(stacks.map((s) => [s.where, s] as const))('%s: every flow between stack services has a shared network', (_w, { stack, dep }) => {
    const nets = (svc: string) => stack.services[svc]?.networks ?? [];
    const servicesOn = (host: string) => (dep.hosts.find((h) => h.name === host)?.services ?? []).map((s) => s.name.slice(dep.name.length + 1)).filter((s) => stack.services[s]?.networks);
    let checked = 0;
    for (const l of dep.links) {
      if (l.proto === 'vrrp') continue;
      const from = servicesOn(l.from);
      for (const t of l.targets) {
        const to = servicesOn(t.to);
        if (!from.length || !to.length) continue; // clients, an external NFS/GlusterFS server
        const shared = from.some((f) => to.some((x) => nets(f).some((n) => nets(x).includes(n))));
        expect(shared, `${l.purpose}: ${from.join('/')} -> ${to.join('/')} (${nets(from[0]!).join(',')} vs ${nets(to[0]!).join(',')})`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(2);
  });

  it.each(stacks.map((s) => [s.where, s] as const))('%s: no app or lb service shares a network with etcd or a Patroni member', (_w, { stack, dep }) => {
    const byKind = (...kinds: string[]) => [...new Set(dep.hosts.flatMap((h) => h.services.filter((s) => kinds.includes(s.kind)).map((s) => s.name.slice(dep.name.length + 1))))].filter((s) => stack.services[s]);
    const front = [...byKind('app', 'lb'), 'app-green'];
    const inner = spec.database.ha === 'patroni' ? byKind('etcd', 'db') : byKind('etcd');
    // without Patroni the load balancer still never reaches PostgreSQL
    const lbOnly = byKind('lb');
    const dbTier = byKind('db', 'db-endpoint', 'etcd');
    expect(front.length).toBeGreaterThan(2);
    for (const f of front) {
      for (const i of inner) {
        const common = (stack.services[f]!.networks ?? []).filter((n) => (stack.services[i]!.networks ?? []).includes(n));
        expect(common, `${f} and ${i}`).toEqual([]);
      }
    }
    for (const l of lbOnly) for (const d of dbTier) expect((stack.services[l]!.networks ?? []).filter((n) => (stack.services[d]!.networks ?? []).includes(n)), `${l} and ${d}`).toEqual([]);
    expect(stack.services['app-green']!.networks).toEqual(stack.services.app!.networks);
  });

  it.each(stacks.map((s) => [s.where, s] as const))('%s: the networks the database is on are encrypted', (_w, { stack }) => {
    for (const n of ['data', 'db']) expect(stack.networks[n]?.driver_opts?.encrypted, n).toBe('true');
    const used = new Set(Object.values(stack.services).flatMap((s) => s.networks ?? []));
    for (const n of used) expect(stack.networks[n], `network ${n} is declared`).toBeDefined();
  });
});
