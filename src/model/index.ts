/**
 * spec -> Deployment: the one place that decides which services run on which host, their names,
 * ports and packages, and every connection between them. Targets render files from it; `plan`,
 * RUNBOOK.md, smoke.sh, the chaos scripts, the bundle README and deploy.sh read it. Pure.
 */
import type { Spec } from '../spec/schema.js';
import { containersDeployment } from './containers.js';
import { hostsDeployment } from './hosts.js';
import type { Deployment, Flow, Link, ModelHost } from './types.js';

export type { Deployment, Flow, Link, ModelHost, ModelService, ModelPort, Purpose, Failover, Exposure } from './types.js';
export { PURPOSES } from './types.js';

type Region = Spec['regions'][number];

/**
 * What the primary region's database needs for logical replication to the other regions: the
 * slots and WAL senders, and the addresses the subscribers connect from (hosts platform: the other
 * regions' database hosts; containers: unknown before deploy, so none).
 */
export interface LogicalPublishing {
  slots: number;
  subscribers: string[];
}
type RegionSpec = Spec & { logicalPublishing?: LogicalPublishing };

/** Set on the primary region's spec by regionSpec (multi-region), undefined everywhere else. */
export const logicalPublishing = (spec: Spec): LogicalPublishing | undefined => (spec as RegionSpec).logicalPublishing;

const regionSpecs = new WeakMap<Spec, Map<string, Spec>>();

/**
 * The spec one region deploys: a multi-server deployment of its own hosts. One object per spec and
 * region, so that deploymentOf's cache holds for it (the model, the region's render and the
 * regions README each asked for a fresh copy, and each copy's model was built again).
 */
export function regionSpec(spec: Spec, r: Region): Spec {
  let byName = regionSpecs.get(spec);
  if (!byName) regionSpecs.set(spec, (byName = new Map()));
  let sub = byName.get(r.name);
  if (!sub) byName.set(r.name, (sub = newRegionSpec(spec, r)));
  return sub;
}

function newRegionSpec(spec: Spec, r: Region): Spec {
  const hosts = spec.hosts.filter((h) => h.region === r.name);
  const sub: RegionSpec = { ...spec, tier: 'multi-server', regions: [], hosts, loadBalancer: { ...spec.loadBalancer, floatingAddress: r.floatingAddress } };
  if (r.primary) {
    const others = spec.regions.filter((o) => !o.primary);
    sub.logicalPublishing = {
      slots: 10 + 2 * spec.database.replicas + others.length,
      subscribers: spec.platform === 'hosts' ? spec.hosts.filter((h) => h.region && h.region !== r.name && h.roles.includes('db')).map((h) => h.address) : [],
    };
  }
  if (spec.platform === 'hosts') {
    sub.app = { ...spec.app, replicas: hosts.filter((h) => h.roles.includes('app')).length };
    sub.database = { ...spec.database, replicas: Math.max(0, hosts.filter((h) => h.roles.includes('db')).length - 1) };
  }
  return sub;
}

/** Where the other regions reach a region's database (the publisher, for logical replication). */
export function regionDbAddress(spec: Spec, r: Region): string {
  if (r.dbAddress) return r.dbAddress;
  const db = spec.hosts.find((h) => h.region === r.name && h.roles.includes('db'));
  return spec.platform === 'hosts' && db ? db.address : `db.${r.name}.${spec.name}.internal`;
}

function single(spec: Spec): Deployment {
  return spec.platform === 'hosts' ? hostsDeployment(spec) : containersDeployment(spec);
}

/** Swarm placement groups repeat in every region: their names get the region in front. */
function renamed(dep: Deployment, region: string): Deployment {
  if (dep.platform === 'hosts') return dep;
  const n = (x: string) => (x === 'clients' ? x : `${region}-${x}`);
  return {
    ...dep,
    hosts: dep.hosts.map((h) => ({ ...h, name: n(h.name), region })),
    members: Object.fromEntries(Object.entries(dep.members).map(([k, v]) => [k, v.map(n)])) as Deployment['members'],
    links: dep.links.map((l) => ({ ...l, from: n(l.from), targets: l.targets.map((t) => ({ ...t, to: t.to === 'floating' ? t.to : n(t.to) })) })),
    dbWrite: Object.fromEntries(Object.entries(dep.dbWrite).map(([k, v]) => [n(k), v])),
    front: dep.front.map((f) => ({ ...f, host: f.host === 'floating' ? f.host : n(f.host) })),
    floating: dep.floating.map((f) => ({ ...f, holders: f.holders.map(n) })),
  };
}

function multiRegion(spec: Spec): Deployment {
  const regions = spec.regions.map((r) => ({ name: r.name, primary: r.primary, deployment: renamed(deploymentOf(regionSpec(spec, r)), r.name) }));
  const all = regions.map((r) => r.deployment);
  const hosts: ModelHost[] = all.flatMap((d) => d.hosts.map((h) => ({ ...h, region: h.region ?? regions[all.indexOf(d)]!.name })));
  // Global DNS failover replaces each region's own front door link.
  const links: Link[] = all.flatMap((d) => d.links.filter((l) => l.from !== 'clients'));
  for (const purpose of ['http', 'https'] as const) {
    const targets = all.flatMap((d) => d.links.filter((l) => l.from === 'clients' && l.purpose === purpose).flatMap((l) => l.targets));
    if (targets.length) links.push({ from: 'clients', purpose, proto: 'tcp', targets, failover: 'dns', what: `clients to the nearest healthy region (global DNS failover, ${purpose.toUpperCase()})` });
  }
  // Logical replication: each other region's primary subscribes to the primary region's database.
  const primary = spec.regions.find((r) => r.primary);
  const pubAddr = primary ? regionDbAddress(spec, primary) : undefined;
  const pubRegion = regions.find((r) => r.primary)?.deployment;
  if (primary && pubAddr && pubRegion) {
    const pubHost = pubRegion.hosts.find((h) => h.address === pubAddr)?.name ?? pubRegion.members.db[0]!;
    for (const r of regions.filter((x) => !x.primary)) {
      const sub = r.deployment.members.db[0];
      if (sub) links.push({ from: sub, purpose: 'db-replication', proto: 'tcp', targets: [{ to: pubHost, address: pubAddr, port: spec.database.port }], failover: 'manual', optional: true, what: `logical replication: ${r.name} subscribes to ${primary.name}` });
    }
  }
  const first = all[0]!;
  // Monitoring runs per region (each region's Prometheus sends to its own Alertmanagers).
  const mons = all.flatMap((d) => (d.monitoring ? [d.monitoring] : []));
  const monitoring = mons.length ? { prometheus: mons.flatMap((m) => m.prometheus), alertmanager: mons.flatMap((m) => m.alertmanager), jobs: mons.flatMap((m) => m.jobs), probes: mons.flatMap((m) => m.probes) } : undefined;
  return {
    name: spec.name,
    tier: spec.tier,
    platform: spec.platform,
    hosts,
    members: { lb: all.flatMap((d) => d.members.lb), app: all.flatMap((d) => d.members.app), db: all.flatMap((d) => d.members.db), etcd: all.flatMap((d) => d.members.etcd), storage: all.flatMap((d) => d.members.storage) },
    links,
    dbWrite: Object.assign({}, ...all.map((d) => d.dbWrite)) as Deployment['dbWrite'],
    front: all.flatMap((d) => d.front),
    floating: all.flatMap((d) => d.floating),
    names: first.names,
    regions,
    ...(monitoring ? { monitoring } : {}),
  };
}

const cache = new WeakMap<Spec, Deployment>();

/** The deployment of a resolved spec (memoised per spec object: specs are never mutated). */
export function deploymentOf(spec: Spec): Deployment {
  let d = cache.get(spec);
  if (!d) cache.set(spec, (d = spec.tier === 'multi-region' ? multiRegion(spec) : single(spec)));
  return d;
}

/** Every connection as one object each (contract: `plan --json` flows), sorted; worked out once per model. */
export function flowsOf(dep: Deployment): readonly Flow[] {
  let flows = flowCache.get(dep);
  if (flows) return flows;
  const seen = new Set<string>();
  const keyed: Array<[string, Flow]> = [];
  for (const l of dep.links) {
    for (const t of l.targets) {
      const f: Flow = { from: l.from, to: t.to, address: t.address, port: t.port, proto: l.proto, purpose: l.purpose };
      const id = JSON.stringify(f);
      if (seen.has(id)) continue;
      seen.add(id);
      keyed.push([`${f.from}\u0000${f.to}\u0000${String(f.port).padStart(5, '0')}\u0000${f.purpose}`, f]);
    }
  }
  flows = keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, f]) => f);
  flowCache.set(dep, flows);
  return flows;
}
const flowCache = new WeakMap<Deployment, readonly Flow[]>();

export function hostOf(dep: Deployment, name: string): ModelHost {
  const h = dep.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`internal: no host ${name} in the deployment model`);
  return h;
}

/** The address a service's listener binds on a host, as the model decides it (renderers write this). */
export function bindOf(dep: Deployment, host: string, serviceId: string, port: number): string {
  const p = hostOf(dep, host).services.find((s) => s.id === serviceId)?.ports.find((x) => x.port === port);
  if (!p) throw new Error(`internal: the model has no port ${port} of ${serviceId} on ${host}`);
  return p.bind;
}
