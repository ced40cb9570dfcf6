/** Platform hosts: the inventory's hosts, the services each runs, and every connection between them. */
import type { Host, Role, Spec } from '../spec/schema.js';
import {
  LB_HEALTH_PATH, VRRP_PROTOCOL, CERTBOT_PORT, DB_ENDPOINT_UNIT, ETCD_CLIENT_PORT, ETCD_METRICS_PORT, ETCD_PEER_PORT, GLUSTERD_PORT, GLUSTER_BRICK_PORT,
  MINIO_CONSOLE_PORT, MINIO_PORT, NFS_PORT, PATRONI_REST_PORT, greenPort, isIpv4, unitNames,
} from './constants.js';
import { lbPorts, lbPackages, needsTlsScript, storageWhat } from './services.js';
import type { Deployment, Link, ModelHost, ModelService } from './types.js';
import { hostsMonitoring, LB_METRICS_PORT } from './monitoring.js';

const ROLES: Role[] = ['lb', 'app', 'db', 'etcd', 'storage'];

/** Where the database endpoint (HAProxy in front of Patroni) runs: on every app host, or every lb host. */
export function endpointHosts(spec: Spec, byRole: Record<Role, Host[]>): Host[] {
  if (spec.database.ha !== 'patroni') return [];
  return spec.database.endpoint === 'lb-hosts' ? byRole.lb : byRole.app;
}

export function hostsDeployment(spec: Spec): Deployment {
  const byRole = Object.fromEntries(ROLES.map((r) => [r, spec.hosts.filter((h) => h.roles.includes(r))])) as Record<Role, Host[]>;
  const { lb, app, db, etcd, storage } = byRole;
  const u = unitNames(spec);
  const d = spec.database;
  const kind = spec.loadBalancer.kind;
  const services = new Map<string, ModelService[]>(spec.hosts.map((h) => [h.name, []]));
  const add = (h: Host, s: Omit<ModelService, 'packages'> & { packages?: string[] }) => services.get(h.name)!.push({ packages: [], ...s });
  const bindOf = (h: Host) => (isIpv4(h.address) ? h.address : '0.0.0.0');
  const links: Link[] = [];
  const to = (h: Host, port: number) => ({ to: h.name, address: h.address, port });

  // 1. load balancers, and the floating address keepalived moves between them
  const fa = spec.loadBalancer.floatingAddress;
  const floating = fa ? [{ address: fa, holders: lb.map((h) => h.name) }] : [];
  for (const h of lb) {
    if (fa) {
      add(h, { id: 'vrrp', name: 'keepalived', unit: 'keepalived', kind: 'vrrp', what: `holds the floating address ${fa} while this host's ${kind} answers ${LB_HEALTH_PATH}`, ports: [], packages: ['keepalived', 'curl'], order: 65 });
      const peers = lb.filter((o) => o !== h);
      if (peers.length) links.push({ from: h.name, purpose: 'vrrp', proto: 'vrrp', targets: peers.map((o) => to(o, VRRP_PROTOCOL)), failover: 'auto', optional: true, what: 'VRRP adverts between the lb hosts (unicast)' });
    }
    // Monitoring: the LB's metrics listener (nginx: stub_status for the local exporter only).
    const metrics = spec.monitoring.enabled ? [kind === 'nginx' ? { port: LB_METRICS_PORT, proto: 'tcp' as const, bind: '127.0.0.1', exposure: 'localhost' as const, what: 'nginx stub_status (the nginx exporter reads it)' } : { port: LB_METRICS_PORT, proto: 'tcp' as const, bind: bindOf(h), exposure: 'internal' as const, what: `${kind} Prometheus metrics` }] : [];
    add(h, { id: 'lb', name: kind, unit: kind, kind: 'lb', what: `${kind} load balancer`, ports: [...lbPorts(spec, '127.0.0.1'), ...metrics], packages: lbPackages(spec), order: 60 });
    if (spec.loadBalancer.tls === 'acme' && needsTlsScript(spec)) {
      add(h, { id: 'acme', name: `${u.acme}.timer`, unit: `${u.acme}.timer`, kind: 'acme', what: 'certbot: first certificate and renewals (ACME HTTP-01 behind the LB)', ports: [{ port: CERTBOT_PORT, proto: 'tcp', bind: '127.0.0.1', exposure: 'localhost', what: 'certbot HTTP-01 (the LB proxies /.well-known/acme-challenge/)' }], packages: ['certbot', 'openssl'], order: 61 });
    }
  }
  const front = spec.loadBalancer.tls === 'none' ? [{ purpose: 'http' as const, port: spec.loadBalancer.httpPort }] : [{ purpose: 'http' as const, port: spec.loadBalancer.httpPort }, { purpose: 'https' as const, port: spec.loadBalancer.httpsPort }];
  for (const f of front) {
    if (fa) links.push({ from: 'clients', purpose: f.purpose, proto: 'tcp', targets: [{ to: 'floating', address: fa, port: f.port }], failover: 'auto', what: `clients to the front door (${f.purpose.toUpperCase()}) on the floating address` });
    else links.push({ from: 'clients', purpose: f.purpose, proto: 'tcp', targets: lb.map((h) => to(h, f.port)), failover: lb.length > 1 ? 'dns' : 'none', what: `clients to the front door (${f.purpose.toUpperCase()})` });
  }
  for (const h of lb) links.push({ from: h.name, purpose: 'app', proto: 'tcp', targets: app.map((a) => to(a, spec.app.port)), failover: 'auto', what: `${kind} to the app instances (health ${spec.app.healthPath})` });
  // deploy/blue-green.sh runs green on the next port of each app host; idle until `up`, so optional.
  for (const h of lb) links.push({ from: h.name, purpose: 'app', proto: 'tcp', targets: app.map((a) => to(a, greenPort(spec))), failover: 'auto', optional: true, what: `${kind} to the green app instances (deploy/blue-green.sh)` });

  // 2. app hosts
  const mounted = spec.storage.kind === 'nfs' || spec.storage.kind === 'glusterfs';
  for (const h of app) {
    if (mounted) add(h, { id: 'uploads-mount', name: u.uploadsMount, unit: u.uploadsMount, kind: 'storage-client', what: `shared uploads (${spec.storage.kind} mount)`, ports: [], packages: [spec.storage.kind === 'nfs' ? 'nfs-common' : 'glusterfs-client'], order: 15 });
    if (spec.storage.kind === 'local') add(h, { id: 'uploads-dir', name: 'uploads folder', kind: 'storage-client', what: 'uploads folder on this host', ports: [], order: 15 });
    add(h, { id: 'app', name: u.app, unit: u.app, kind: 'app', what: `app instance (${spec.app.image})`, ports: [{ port: spec.app.port, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: `app, health ${spec.app.healthPath}` }, { port: greenPort(spec), proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: 'green app instance while deploy/blue-green.sh runs one' }], packages: ['docker.io'], order: 50 });
  }

  // 3. database, and where the app connects for writes
  const dbWrite: Deployment['dbWrite'] = {};
  const epHosts = endpointHosts(spec, byRole);
  if (d.ha === 'patroni') {
    for (const h of etcd) {
      add(h, { id: 'etcd', name: 'etcd', unit: 'etcd', kind: 'etcd', what: 'etcd member (Patroni\'s DCS)', ports: [{ port: ETCD_CLIENT_PORT, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: 'etcd clients' }, { port: ETCD_PEER_PORT, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: 'etcd peers' }, { port: ETCD_METRICS_PORT, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: 'etcd /metrics and /health (plain, read-only)' }], packages: ['etcd-server', 'etcd-client', 'curl'], order: 20 });
      links.push({ from: h.name, purpose: 'etcd-peer', proto: 'tcp', targets: etcd.filter((e) => e !== h).map((e) => to(e, ETCD_PEER_PORT)), failover: 'auto', quorum: true, what: 'etcd raft between members' });
    }
    for (const h of db) {
      add(h, {
        id: 'db', name: 'patroni', unit: 'patroni', kind: 'db', what: 'PostgreSQL managed by Patroni',
        ports: [{ port: d.port, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: 'PostgreSQL' }, { port: PATRONI_REST_PORT, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: 'Patroni REST API, HTTPS (/primary, /replica; changes need a certificate)' }],
        packages: ['patroni', `postgresql-${d.version}`], order: 30,
      });
      links.push({ from: h.name, purpose: 'etcd-client', proto: 'tcp', targets: etcd.map((e) => to(e, ETCD_CLIENT_PORT)), failover: 'auto', quorum: true, what: 'Patroni to etcd (leader lock)' });
      const others = db.filter((o) => o !== h);
      links.push({ from: h.name, purpose: 'db-replication', proto: 'tcp', targets: others.map((o) => to(o, d.port)), failover: 'auto', optional: true, what: 'streaming replication and pg_rewind from the current leader' });
      links.push({ from: h.name, purpose: 'patroni-api', proto: 'tcp', targets: others.map((o) => to(o, PATRONI_REST_PORT)), failover: 'auto', optional: true, what: 'Patroni members check each other before a failover (HTTPS)' });
    }
    for (const h of epHosts) {
      // On the lb hosts behind a floating address the endpoint also answers on that address.
      const b = fa && !app.includes(h) ? '0.0.0.0' : bindOf(h);
      add(h, {
        id: 'db-endpoint', name: DB_ENDPOINT_UNIT, unit: DB_ENDPOINT_UNIT, kind: 'db-endpoint', what: 'database endpoint: HAProxy sends writes to the Patroni leader (/primary check)',
        ports: [
          { port: d.endpointPorts.write, proto: 'tcp', bind: b, exposure: 'internal', what: 'writes (leader)' },
          { port: d.endpointPorts.read, proto: 'tcp', bind: b, exposure: 'internal', what: 'reads (replicas)' },
          { port: d.endpointPorts.stats, proto: 'tcp', bind: '127.0.0.1', exposure: 'localhost', what: 'endpoint stats' },
        ],
        packages: ['haproxy'], order: 40,
      });
      links.push({ from: h.name, purpose: 'db-write', proto: 'tcp', targets: db.map((m) => to(m, d.port)), failover: 'auto', what: 'the endpoint forwards sessions to the Patroni leader' });
      links.push({ from: h.name, purpose: 'patroni-api', proto: 'tcp', targets: db.map((m) => to(m, PATRONI_REST_PORT)), failover: 'auto', what: 'the endpoint checks /primary and /replica on every member (HTTPS, verified against the bundle\'s CA)' });
    }
    for (const h of app) {
      // On the app host itself when the endpoint runs there; else the lb hosts' floating address, or the first lb host.
      const ep = epHosts.includes(h) ? h : epHosts[0]!;
      const viaFloating = !epHosts.includes(h) && fa;
      const target = viaFloating ? { to: 'floating', address: fa, port: d.endpointPorts.write } : to(ep, d.endpointPorts.write);
      dbWrite[h.name] = { address: target.address, port: d.endpointPorts.write };
      links.push({ from: h.name, purpose: 'db-write', proto: 'tcp', targets: [target], failover: ep === h || viaFloating ? 'auto' : 'none', what: 'the app connects to its database endpoint (DATABASE_URL)' });
    }
  } else {
    db.forEach((h, i) => {
      const standby = d.ha === 'streaming' && i > 0;
      add(h, {
        id: 'db', name: u.postgres, unit: u.postgres, kind: 'db',
        what: d.ha === 'streaming' ? (standby ? 'PostgreSQL streaming standby' : 'PostgreSQL primary') : 'PostgreSQL',
        ports: [{ port: d.port, proto: 'tcp', bind: bindOf(h), exposure: 'internal', what: standby ? 'PostgreSQL standby (read-only)' : 'PostgreSQL' }],
        packages: [`postgresql-${d.version}`], order: standby ? 35 : 30,
      });
      if (standby) links.push({ from: h.name, purpose: 'db-replication', proto: 'tcp', targets: [to(db[0]!, d.port)], failover: 'manual', optional: true, what: 'the standby streams WAL from the primary' });
    });
    for (const h of app) {
      dbWrite[h.name] = { address: db[0]!.address, port: d.port };
      links.push({ from: h.name, purpose: 'db-write', proto: 'tcp', targets: db.slice(0, d.ha === 'streaming' ? db.length : 1).map((m) => to(m, d.port)), failover: d.ha === 'streaming' ? 'manual' : 'none', what: 'the app connects to the primary (DATABASE_URL)' });
    }
  }
  // Backups run on every database host (the timer acts on the current primary only).
  for (const h of db) {
    add(h, { id: 'backup', name: `${u.backup}.timer`, unit: `${u.backup}.timer`, kind: 'backup', what: 'pgBackRest base backup (runs on the current primary only)', ports: [], packages: ['pgbackrest'], order: 36 });
    add(h, { id: 'dump', name: `${u.dump}.timer`, unit: `${u.dump}.timer`, kind: 'backup', what: 'daily pg_dump (on the current primary only)', ports: [], order: 36 });
  }

  // 4. shared storage
  const s = spec.storage.kind;
  // An NFS server outside the inventory (storage.nfsServer) is still a host the app hosts depend on.
  const externalNfs: Host | undefined = s === 'nfs' && !storage[0] ? { name: spec.storage.nfsServer, address: spec.storage.nfsServer, roles: ['storage'] } : undefined;
  if (externalNfs) services.set(externalNfs.name, []);
  if (s === 'nfs') {
    const srv = storage[0] ?? externalNfs!;
    add(srv, { id: 'storage', name: 'nfs-server', unit: 'nfs-server', kind: 'storage', what: externalNfs ? `${storageWhat(spec)} (not deployed by this bundle: storage.nfsServer)` : storageWhat(spec), ports: [{ port: NFS_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'NFSv4 (exported to the app hosts only)' }], packages: ['nfs-kernel-server'], order: 10 });
    for (const h of app) links.push({ from: h.name, purpose: 'storage', proto: 'tcp', targets: [to(srv, NFS_PORT)], failover: 'none', what: 'uploads over NFS' });
  }
  if (s === 'glusterfs') {
    const last = storage[storage.length - 1];
    for (const h of storage) {
      add(h, { id: 'storage', name: 'glusterd', unit: 'glusterd', kind: 'storage', what: storageWhat(spec), ports: [{ port: GLUSTERD_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'glusterd' }, { port: GLUSTER_BRICK_PORT, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what: 'brick' }], packages: ['glusterfs-server'], order: 10 });
      links.push({ from: h.name, purpose: 'storage', proto: 'tcp', targets: storage.filter((o) => o !== h).map((o) => to(o, GLUSTER_BRICK_PORT)), failover: 'auto', optional: true, what: 'GlusterFS self-heal between replicas' });
      // The trusted pool: peer probe, volume create/start/set and peer state go glusterd to glusterd
      // (without this flow the firewall dropped the volume script's peer probe).
      if (storage.length > 1) links.push({ from: h.name, purpose: 'storage', proto: 'tcp', targets: storage.filter((o) => o !== h).map((o) => to(o, GLUSTERD_PORT)), failover: 'auto', optional: true, what: 'GlusterFS peers (trusted pool, volume changes)' });
    }
    if (last) add(last, { id: 'storage-volume', name: 'gluster volume', kind: 'storage', what: 'creates the replicated volume once every glusterd answers', ports: [], order: 11 });
    for (const h of app) {
      links.push({ from: h.name, purpose: 'storage', proto: 'tcp', targets: storage.map((o) => to(o, GLUSTERD_PORT)), failover: 'auto', what: 'GlusterFS volume file (mount)' });
      links.push({ from: h.name, purpose: 'storage', proto: 'tcp', targets: storage.map((o) => to(o, GLUSTER_BRICK_PORT)), failover: 'auto', what: 'uploads on the replicated bricks' });
    }
  }
  if (s === 's3' && storage[0]) {
    const srv = storage[0];
    add(srv, { id: 'storage', name: u.minio, unit: u.minio, kind: 'storage', what: storageWhat(spec), ports: [{ port: MINIO_PORT, proto: 'tcp', bind: bindOf(srv), exposure: 'internal', what: 'S3 API' }, { port: MINIO_CONSOLE_PORT, proto: 'tcp', bind: '127.0.0.1', exposure: 'localhost', what: 'MinIO console' }], packages: ['docker.io'], order: 10 });
    add(srv, { id: 'storage-bootstrap', name: 'minio bootstrap', kind: 'storage', what: 'bucket, policy and the app\'s key', ports: [], order: 10 });
    for (const h of app) links.push({ from: h.name, purpose: 'storage', proto: 'tcp', targets: [to(srv, MINIO_PORT)], failover: 'none', what: 'uploads over S3' });
  }
  if (spec.backup.repository === 's3' && storage[0]) {
    for (const h of db) links.push({ from: h.name, purpose: 'backup', proto: 'tcp', targets: [to(storage[0], MINIO_PORT)], failover: 'none', optional: true, what: 'pgBackRest repository (WAL archive and base backups)' });
  }

  // 5. monitoring: Prometheus and Alertmanager on the first two app hosts, exporters where they watch
  let monitoring: Deployment['monitoring'];
  if (spec.monitoring.enabled) {
    const frontPurpose = spec.loadBalancer.tls === 'none' ? 'http' : 'https';
    const frontTargets = links.find((l) => l.from === 'clients' && l.purpose === frontPurpose)?.targets ?? [];
    const m = hostsMonitoring(spec, byRole, add, bindOf, frontTargets);
    links.push(...m.links);
    monitoring = m.model;
  }

  // First on every host, as at boot: loaded last, it dropped etcd peer connections already open and
  // wedged Patroni's bootstrap in the lab. It lets in only the connections above (targets/firewall).
  if (spec.firewall.enabled) for (const h of spec.hosts) add(h, { id: 'firewall', name: u.firewall, unit: u.firewall, kind: 'firewall', what: 'nftables: only the flows into this host and SSH from firewall.adminCidrs', ports: [], packages: ['nftables'], order: 5 });

  const hosts: ModelHost[] = [...spec.hosts, ...(externalNfs ? [externalNfs] : [])].map((h) => ({
    name: h.name,
    address: h.address,
    ...(h.region ? { region: h.region } : {}),
    roles: [...h.roles],
    ...(h === externalNfs ? { external: true } : {}),
    services: [...services.get(h.name)!].sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  }));
  return {
    name: spec.name,
    tier: spec.tier,
    platform: 'hosts',
    hosts,
    members: Object.fromEntries(ROLES.map((r) => [r, byRole[r].map((h) => h.name)])) as Record<Role, string[]>,
    links,
    dbWrite,
    front: fa ? [{ host: 'floating', address: fa }] : lb.map((h) => ({ host: h.name, address: h.address })),
    floating,
    names: { lb: kind, app: u.app, db: d.ha === 'patroni' ? 'patroni' : u.postgres, backup: u.backup },
    ...(monitoring ? { monitoring } : {}),
  };
}

/** Names of the hosts that run the database endpoint. */
export const endpointHostsOf = (dep: Deployment) => dep.hosts.filter((h) => h.services.some((s) => s.kind === 'db-endpoint')).map((h) => h.name);
