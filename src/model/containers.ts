/**
 * Platforms compose and swarm. Compose: one Docker host runs every service. Swarm: a placement
 * group per node label (or per replica spread one per node), each counted as its own server, which
 * is what the stack's constraints make true when no node carries two labels of the same role.
 */
import type { Role, Spec } from '../spec/schema.js';
import { VRRP_PROTOCOL, ETCD_CLIENT_PORT, ETCD_METRICS_PORT, ETCD_PEER_PORT, MINIO_PORT, NFS_PORT, GLUSTERD_PORT, PATRONI_REST_PORT } from './constants.js';
import { dbWhat, lbPorts, storageWhat } from './services.js';
import type { Deployment, Link, LinkTarget, ModelHost, ModelService } from './types.js';
import { containersMonitoring, LB_METRICS_PORT, MONITORING_LABEL } from './monitoring.js';

/** Database member service names in containers. */
export const replicaNames = (spec: Spec) => (spec.database.replicas === 1 ? ['db-replica'] : Array.from({ length: spec.database.replicas }, (_, i) => `db-replica${i + 1}`));
export const patroniMembers = (spec: Spec) => Array.from({ length: spec.database.replicas + 1 }, (_, i) => `db${i + 1}`);
export const etcdMembers = (spec: Spec) => Array.from({ length: spec.database.etcdMembers }, (_, i) => `etcd${i + 1}`);
/** Swarm: two replicas of the database endpoint, one per node. */
export const SWARM_ENDPOINT_REPLICAS = 2;
/** Swarm: the LB runs on every node labelled lb=true; the model counts two (the preset's advice). */
export const SWARM_LB_NODES = 2;

/** The database member services in containers: db, db + db-replica(s), or db1..N (Patroni). */
export function dbMemberNames(spec: Spec): string[] {
  if (spec.database.ha === 'none') return ['db'];
  if (spec.database.ha === 'patroni') return patroniMembers(spec);
  return ['db', ...replicaNames(spec)];
}

export function containersDeployment(spec: Spec): Deployment {
  const swarm = spec.platform === 'swarm';
  const prefix = swarm ? `${spec.name}_` : '';
  const d = spec.database;
  const kind = spec.loadBalancer.kind;
  const hosts: ModelHost[] = [];
  const host = (name: string, roles: Role[], label?: string, external = false): ModelHost => {
    let h = hosts.find((x) => x.name === name);
    if (!h) hosts.push((h = { name, address: name, roles, services: [], ...(label ? { label } : {}), ...(external ? { external } : {}) }));
    return h;
  };
  // compose: everything on one host; swarm: one placement group per name.
  const place = (swarmName: string, roles: Role[], label?: string) => (swarm ? host(swarmName, roles, label) : host('docker-host', ['lb', 'app', 'db', ...(spec.storage.kind === 's3' ? (['storage'] as Role[]) : [])]));
  const svc = (h: ModelHost, s: Omit<ModelService, 'packages' | 'order'> & { order?: number }) => h.services.push({ packages: [], order: 50, ...s });
  const links: Link[] = [];
  const target = (h: ModelHost, port: number, address = h.address): LinkTarget => ({ to: h.name, address, port });

  // 1. load balancer
  const lbHosts = swarm ? Array.from({ length: SWARM_LB_NODES }, (_, i) => place(`lb-${i + 1}`, ['lb'], 'lb=true')) : [place('', [])];
  // Monitoring: the LB's metrics listener inside its container, never published (compose nginx: its
  // stub_status on the container's localhost, read by the exporter that shares its network).
  const lbMetrics = spec.monitoring.enabled ? [kind === 'nginx' && !swarm ? { port: LB_METRICS_PORT, proto: 'tcp' as const, bind: '127.0.0.1', exposure: 'localhost' as const, what: 'nginx stub_status (the nginx exporter reads it)' } : { port: LB_METRICS_PORT, proto: 'tcp' as const, bind: '0.0.0.0', exposure: 'internal' as const, what: kind === 'nginx' ? 'nginx stub_status (the nginx exporter reads it; not published)' : `${kind} Prometheus metrics (not published)` }] : [];
  for (const h of lbHosts) svc(h, { id: 'lb', name: `${prefix}${kind}`, kind: 'lb', what: `${kind} load balancer`, ports: [...lbPorts(spec, '127.0.0.1'), ...lbMetrics], order: 60 });
  // Swarm: keepalived on every lb node moves the floating address (VRRP multicast: node addresses are not in the spec).
  const fa = swarm ? spec.loadBalancer.floatingAddress : undefined;
  for (const h of fa ? lbHosts : []) {
    svc(h, { id: 'vrrp', name: `${prefix}keepalived`, kind: 'vrrp', what: `holds the floating address ${fa} while this node's ${kind} answers its health path`, ports: [], order: 65 });
    links.push({ from: h.name, purpose: 'vrrp', proto: 'vrrp', targets: lbHosts.filter((o) => o !== h).map((o) => target(o, VRRP_PROTOCOL)), failover: 'auto', optional: true, what: 'VRRP adverts between the lb nodes (multicast)' });
  }
  const frontPorts = [{ purpose: 'http' as const, port: spec.loadBalancer.httpPort }, ...(spec.loadBalancer.tls === 'none' ? [] : [{ purpose: 'https' as const, port: spec.loadBalancer.httpsPort }])];
  for (const f of frontPorts) {
    if (fa) links.push({ from: 'clients', purpose: f.purpose, proto: 'tcp', targets: [{ to: 'floating', address: fa, port: f.port }], failover: 'auto', what: `clients to the front door (${f.purpose.toUpperCase()}) on the floating address` });
    else links.push({ from: 'clients', purpose: f.purpose, proto: 'tcp', targets: lbHosts.map((h) => target(h, f.port)), failover: lbHosts.length > 1 ? 'dns' : 'none', what: `clients to the front door (${f.purpose.toUpperCase()})` });
  }

  // 2. app instances
  const appPorts = [{ port: spec.app.port, proto: 'tcp' as const, bind: '0.0.0.0', exposure: 'internal' as const, what: `app, health ${spec.app.healthPath}` }];
  const appHosts: ModelHost[] = [];
  for (let i = 1; i <= spec.app.replicas; i++) {
    const h = place(`app-${i}`, ['app'], 'app=true');
    appHosts.push(h);
    if (swarm) svc(h, { id: 'app', name: `${prefix}app`, kind: 'app', what: `app replica ${i} of ${spec.app.replicas} (one per node)`, ports: appPorts });
    else svc(h, { id: `app${i}`, name: `app${i}`, kind: 'app', what: `app instance ${i} of ${spec.app.replicas}`, ports: appPorts });
  }
  for (const h of lbHosts) links.push({ from: h.name, purpose: 'app', proto: 'tcp', targets: appHosts.map((a, i) => target(a, spec.app.port, swarm ? 'tasks.app' : `app${i + 1}`)), failover: 'auto', what: `${kind} to the app instances (health ${spec.app.healthPath})` });

  // 3. database
  const members = dbMemberNames(spec);
  const dbHosts = members.map((m, i) => {
    const label = d.ha === 'patroni' ? `patroni=${m}` : i === 0 ? 'database=primary' : `database=${m.replace(/^db-/, '')}`;
    const h = place(d.ha === 'patroni' ? `patroni-${m}` : `database-${i === 0 ? 'primary' : m.replace(/^db-/, '')}`, ['db'], label);
    const standby = d.ha === 'streaming' && i > 0;
    const ports = [{ port: d.port, proto: 'tcp' as const, bind: '0.0.0.0', exposure: 'internal' as const, what: 'PostgreSQL' }];
    if (d.ha === 'patroni') ports.push({ port: PATRONI_REST_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'Patroni REST API, HTTPS (/primary, /replica; changes need a certificate)' });
    svc(h, { id: `db-${m}`, name: `${prefix}${m}`, kind: 'db', what: d.ha === 'streaming' ? (standby ? 'PostgreSQL streaming standby' : 'PostgreSQL primary') : dbWhat(spec), ports, order: 30 });
    return h;
  });
  const dbWrite: Deployment['dbWrite'] = {};
  const etcdParts: Array<{ host: ModelHost; member: string }> = [];
  if (d.ha === 'patroni') {
    const etcd = etcdMembers(spec).map((e) => {
      const h = place(`etcd-${e}`, ['etcd'], `etcd=${e}`);
      svc(h, { id: `etcd-${e}`, name: `${prefix}${e}`, kind: 'etcd', what: `etcd member ${e.slice(4)} of ${spec.database.etcdMembers}`, ports: [{ port: ETCD_CLIENT_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'clients (TLS, a certificate of the bundle\'s CA)' }, { port: ETCD_PEER_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'peers (TLS)' }, { port: ETCD_METRICS_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'etcd /metrics and /health (plain, read-only)' }], order: 20 });
      etcdParts.push({ host: h, member: e });
      return h;
    });
    for (const h of etcd) links.push({ from: h.name, purpose: 'etcd-peer', proto: 'tcp', targets: etcd.filter((e) => e !== h).map((e) => target(e, ETCD_PEER_PORT, e.name.replace(/^etcd-/, ''))), failover: 'auto', quorum: true, what: 'etcd raft between members' });
    dbHosts.forEach((h, i) => {
      links.push({ from: h.name, purpose: 'etcd-client', proto: 'tcp', targets: etcd.map((e) => target(e, ETCD_CLIENT_PORT, e.name.replace(/^etcd-/, ''))), failover: 'auto', quorum: true, what: 'Patroni to etcd (leader lock)' });
      links.push({ from: h.name, purpose: 'db-replication', proto: 'tcp', targets: dbHosts.filter((o) => o !== h).map((o) => target(o, d.port, members[dbHosts.indexOf(o)]!)), failover: 'auto', optional: true, what: `streaming replication to ${members[i]} from the current leader` });
    });
    const epHosts = swarm ? Array.from({ length: SWARM_ENDPOINT_REPLICAS }, (_, i) => place(`db-endpoint-${i + 1}`, ['db'], '(any node, one per node)')) : [place('', [])];
    for (const h of epHosts) {
      svc(h, { id: 'db-endpoint', name: `${prefix}db-endpoint`, kind: 'db-endpoint', what: 'database endpoint: writes to the Patroni leader', ports: [{ port: d.endpointPorts.write, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'writes' }, { port: d.endpointPorts.read, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'reads (replicas)' }, { port: d.endpointPorts.stats, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'endpoint stats (not published)' }], order: 40 });
      links.push({ from: h.name, purpose: 'db-write', proto: 'tcp', targets: dbHosts.map((m, i) => target(m, d.port, members[i]!)), failover: 'auto', what: 'the endpoint forwards sessions to the Patroni leader' });
      links.push({ from: h.name, purpose: 'patroni-api', proto: 'tcp', targets: dbHosts.map((m, i) => target(m, PATRONI_REST_PORT, members[i]!)), failover: 'auto', what: 'the endpoint checks /primary on every member (HTTPS, verified against the bundle\'s CA)' });
    }
    for (const a of appHosts) {
      dbWrite[a.name] = { address: 'db-endpoint', port: d.endpointPorts.write };
      links.push({ from: a.name, purpose: 'db-write', proto: 'tcp', targets: epHosts.map((h) => target(h, d.endpointPorts.write, 'db-endpoint')), failover: 'auto', what: 'the app connects to the database endpoint (DATABASE_URL)' });
    }
  } else {
    dbHosts.slice(1).forEach((h, i) => links.push({ from: h.name, purpose: 'db-replication', proto: 'tcp', targets: [target(dbHosts[0]!, d.port, 'db')], failover: 'manual', optional: true, what: `the standby ${members[i + 1]} streams WAL from the primary` }));
    for (const a of appHosts) {
      dbWrite[a.name] = { address: 'db', port: d.port };
      links.push({ from: a.name, purpose: 'db-write', proto: 'tcp', targets: (d.ha === 'streaming' ? dbHosts : dbHosts.slice(0, 1)).map((m, i) => target(m, d.port, members[i]!)), failover: d.ha === 'streaming' ? 'manual' : 'none', what: 'the app connects to the primary (DATABASE_URL)' });
    }
  }

  // 4. shared storage (nfs and glusterfs servers are outside the stack: named in the spec)
  const s = spec.storage;
  if (s.kind === 's3') {
    const h = place('storage', ['storage'], 'storage=true');
    svc(h, { id: 'storage', name: `${prefix}minio`, kind: 'storage', what: storageWhat(spec), ports: [{ port: MINIO_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'S3 API' }], order: 10 });
    for (const a of appHosts) links.push({ from: a.name, purpose: 'storage', proto: 'tcp', targets: [target(h, MINIO_PORT, 'minio')], failover: 'none', what: 'uploads over S3' });
  } else if (s.kind === 'nfs') {
    const h = host(s.nfsServer, ['storage'], undefined, true);
    svc(h, { id: 'storage', name: 'nfs-server', kind: 'storage', what: `${storageWhat(spec)} (set up by storage/nfs/nfs-server.sh, outside the ${spec.platform} bundle)`, ports: [{ port: NFS_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'NFSv4' }], order: 10 });
    for (const a of appHosts) links.push({ from: a.name, purpose: 'storage', proto: 'tcp', targets: [target(h, NFS_PORT)], failover: 'none', what: 'uploads over NFS' });
  } else if (s.kind === 'glusterfs') {
    const servers = (s.servers.length ? s.servers : ['gluster1', 'gluster2', 'gluster3']).map((n) => host(n, ['storage'], undefined, true));
    for (const h of servers) svc(h, { id: 'storage', name: 'glusterd', kind: 'storage', what: `${storageWhat(spec)} (outside the ${spec.platform} bundle)`, ports: [{ port: GLUSTERD_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'glusterd' }], order: 10 });
    for (const a of appHosts) links.push({ from: a.name, purpose: 'storage', proto: 'tcp', targets: servers.map((h) => target(h, GLUSTERD_PORT)), failover: 'auto', what: 'uploads on the replicated volume (mounted on the node)' });
  }
  if (spec.backup.repository === 's3') {
    const st = hosts.find((h) => h.roles.includes('storage') && h.services.some((x) => x.name.endsWith('minio')));
    if (st) for (const h of dbHosts) links.push({ from: h.name, purpose: 'backup', proto: 'tcp', targets: [target(st, MINIO_PORT, 'minio')], failover: 'none', optional: true, what: 'pgBackRest repository' });
  }
  // A replicated database has a backup service beside every member (only the primary's acts), so
  // backups follow a failover; a single one has one (docker-compose.backup.yml / stack.backup.yml).
  if (d.ha === 'none') svc(dbHosts[0]!, { id: 'backup', name: `${prefix}backup`, kind: 'backup', what: `scheduled pgBackRest backup (${spec.backup.time} UTC) and pg_dump`, ports: [], order: 35 });
  else dbHosts.forEach((h, i) => svc(h, { id: `backup-${members[i]}`, name: `${prefix}backup-${members[i]}`, kind: 'backup', what: `scheduled pgBackRest backup (${spec.backup.time} UTC) and pg_dump while ${members[i]} is the primary`, ports: [], order: 35 }));

  let monitoring: Deployment['monitoring'];
  if (spec.monitoring.enabled) {
    monitoring = containersMonitoring(spec, {
      swarm, prefix, lbHosts, appHosts, db: dbHosts.map((h, i) => ({ host: h, member: members[i]! })), etcd: etcdParts,
      place: (i) => (swarm ? place(`monitoring-${i + 1}`, [], MONITORING_LABEL) : place('', [])),
      nodes: () => (swarm ? hosts.filter((h) => !h.external) : [place('', [])]),
      add: svc,
    }, links);
  }

  for (const h of hosts) h.services.sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byRole = (r: Role) => hosts.filter((h) => h.roles.includes(r)).map((h) => h.name);
  return {
    name: spec.name,
    tier: spec.tier,
    platform: spec.platform,
    hosts,
    members: { lb: byRole('lb'), app: byRole('app'), db: byRole('db'), etcd: byRole('etcd'), storage: byRole('storage') },
    links,
    dbWrite,
    front: fa ? [{ host: 'floating', address: fa }] : lbHosts.map((h) => ({ host: h.name, address: 'localhost' })),
    floating: fa ? [{ address: fa, holders: lbHosts.map((h) => h.name) }] : [],
    names: { lb: `${prefix}${kind}`, app: swarm ? `${prefix}app` : 'app', db: `${prefix}${members[0]}`, backup: d.ha === 'none' ? `${prefix}backup` : `${prefix}backup-${members[0]}` },
    ...(monitoring ? { monitoring } : {}),
  };
}
