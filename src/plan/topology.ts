/**
 * Where each service of a spec runs and under which name, for every platform: the one table that
 * `ha-gen plan`, the runbook, smoke.sh and the chaos scripts read. Pure data from the spec.
 * Names follow the platform targets (compose service names, swarm `<stack>_<service>`, hosts' units).
 */
import type { Host, Spec } from '../spec/schema.js';
import { hostsWith } from '../spec/resolve.js';
import { etcdMembers, patroniMembers, replicaNames } from '../targets/postgres/containers.js';

export const PATRONI_REST_PORT = 8008;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const MINIO_PORT = 9000;

export type Exposure = 'public' | 'internal' | 'localhost';

export interface PlanPort {
  port: number;
  exposure: Exposure;
  what: string;
}

export interface PlanService {
  /** The name an operator types: compose service, swarm service or systemd unit. */
  name: string;
  kind: 'lb' | 'app' | 'db' | 'db-endpoint' | 'etcd' | 'storage' | 'backup';
  what: string;
  ports: PlanPort[];
}

export interface PlanHost {
  /** Inventory name (hosts), node label group (swarm) or the one server (compose). */
  name: string;
  address?: string;
  region?: string;
  roles: string[];
  services: PlanService[];
}

export interface DbMember {
  name: string;
  /** Where an operator reaches it (address or container/service name). */
  address: string;
  host: string;
}

/** The running pieces with the names scripts use. */
export interface Topology {
  platform: Spec['platform'];
  /** compose project / swarm stack / unit prefix. */
  name: string;
  lbService: string;
  lbAddresses: string[];
  appService: string;
  apps: Array<{ name: string; host: string; address: string }>;
  dbService: string;
  db: DbMember[];
  etcd: DbMember[];
  /** host:port the app connects to. */
  dbEndpoint: { host: string; port: number };
  backupService: string;
  hosts: PlanHost[];
}

const lbPorts = (spec: Spec): PlanPort[] => {
  const lb = spec.loadBalancer;
  const ports: PlanPort[] = [{ port: lb.httpPort, exposure: 'public', what: lb.tls === 'none' ? 'HTTP' : 'HTTP (redirects to HTTPS)' }];
  if (lb.tls !== 'none') ports.push({ port: lb.httpsPort, exposure: 'public', what: 'HTTPS' });
  if (lb.kind === 'haproxy') ports.push({ port: lb.statsPort, exposure: 'localhost', what: 'HAProxy stats (password in .env)' });
  return ports;
};

const dbWhat = (spec: Spec) => ({ none: 'PostgreSQL', streaming: 'PostgreSQL (streaming replication)', patroni: 'PostgreSQL managed by Patroni' })[spec.database.ha];

function hostsTopology(spec: Spec): Topology {
  const lb = hostsWith(spec, 'lb');
  const app = hostsWith(spec, 'app');
  const db = hostsWith(spec, 'db');
  const etcd = hostsWith(spec, 'etcd');
  const storage = hostsWith(spec, 'storage');
  const kind = spec.loadBalancer.kind;
  const v = spec.database.version;
  const dbUnit = spec.database.ha === 'patroni' ? 'patroni' : `postgresql@${v}-main`;
  const services = new Map<string, PlanService[]>(spec.hosts.map((h) => [h.name, []]));
  const add = (h: Host, s: PlanService) => services.get(h.name)!.push(s);
  for (const h of lb) {
    add(h, { name: kind, kind: 'lb', what: `${kind} load balancer`, ports: lbPorts(spec) });
    if (spec.database.ha === 'patroni') {
      add(h, {
        name: 'haproxy-db',
        kind: 'db-endpoint',
        what: 'database endpoint: HAProxy sends writes to the Patroni leader (/primary check)',
        ports: [
          { port: spec.database.endpointPorts.write, exposure: 'internal', what: 'writes (leader)' },
          { port: spec.database.endpointPorts.read, exposure: 'internal', what: 'reads (replicas)' },
          { port: spec.database.endpointPorts.stats, exposure: 'localhost', what: 'endpoint stats' },
        ],
      });
    }
  }
  for (const h of app) add(h, { name: `${spec.name}-app`, kind: 'app', what: `app instance (${spec.app.image})`, ports: [{ port: spec.app.port, exposure: 'internal', what: `app, health ${spec.app.healthPath}` }] });
  db.forEach((h, i) => {
    const ports: PlanPort[] = [{ port: spec.database.port, exposure: 'internal', what: i === 0 || spec.database.ha === 'patroni' ? 'PostgreSQL' : 'PostgreSQL standby (read-only)' }];
    if (spec.database.ha === 'patroni') ports.push({ port: PATRONI_REST_PORT, exposure: 'internal', what: 'Patroni REST API (/primary, /replica)' });
    add(h, { name: dbUnit, kind: 'db', what: spec.database.ha === 'streaming' ? (i === 0 ? 'PostgreSQL primary' : 'PostgreSQL streaming standby') : dbWhat(spec), ports });
    add(h, { name: `${spec.name}-backup.timer`, kind: 'backup', what: 'pgBackRest base backup + pg_dump (runs on the current primary only)', ports: [] });
  });
  for (const h of etcd) add(h, { name: 'etcd', kind: 'etcd', what: 'etcd member (Patroni\'s DCS)', ports: [{ port: ETCD_CLIENT_PORT, exposure: 'internal', what: 'etcd clients' }, { port: ETCD_PEER_PORT, exposure: 'internal', what: 'etcd peers' }] });
  for (const h of storage) add(h, storageService(spec));
  const primary = db[0];
  const endpointHost = spec.database.ha === 'patroni' && lb[0] ? lb[0] : primary;
  return {
    platform: 'hosts',
    name: spec.name,
    lbService: kind,
    lbAddresses: lb.map((h) => h.address),
    appService: `${spec.name}-app`,
    apps: app.map((h) => ({ name: h.name, host: h.name, address: h.address })),
    dbService: dbUnit,
    db: db.map((h) => ({ name: h.name, address: h.address, host: h.name })),
    etcd: etcd.map((h) => ({ name: h.name, address: h.address, host: h.name })),
    dbEndpoint: { host: endpointHost?.address ?? 'db', port: spec.database.ha === 'patroni' ? spec.database.endpointPorts.write : spec.database.port },
    backupService: `${spec.name}-backup`,
    hosts: spec.hosts.map((h) => ({ name: h.name, address: h.address, ...(h.region ? { region: h.region } : {}), roles: [...h.roles], services: services.get(h.name)! })),
  };
}

function storageService(spec: Spec): PlanService {
  const s = spec.storage.kind;
  if (s === 's3') return { name: 'minio', kind: 'storage', what: 'MinIO (S3 API) for uploads and backups', ports: [{ port: MINIO_PORT, exposure: 'internal', what: 'S3 API' }] };
  if (s === 'nfs') return { name: 'nfs-server', kind: 'storage', what: 'NFS export for uploads', ports: [{ port: 2049, exposure: 'internal', what: 'NFSv4' }] };
  if (s === 'glusterfs') return { name: 'glusterd', kind: 'storage', what: 'GlusterFS replicated volume for uploads', ports: [{ port: 24007, exposure: 'internal', what: 'glusterd' }] };
  return { name: 'uploads', kind: 'storage', what: 'uploads volume on this server', ports: [] };
}

/** Database member names in containers: one service per member (names from the postgres target). */
function containerDb(spec: Spec): DbMember[] {
  const m = (n: string): DbMember => ({ name: n, address: n, host: n });
  if (spec.database.ha === 'none') return [m('db')];
  if (spec.database.ha === 'patroni') return patroniMembers(spec).map(m);
  return [m('db'), ...replicaNames(spec).map(m)];
}

function containerServices(spec: Spec, prefix: string): PlanService[] {
  const out: PlanService[] = [];
  const kind = spec.loadBalancer.kind;
  out.push({ name: `${prefix}${kind}`, kind: 'lb', what: `${kind} load balancer`, ports: lbPorts(spec) });
  const appPorts: PlanPort[] = [{ port: spec.app.port, exposure: 'internal', what: `app, health ${spec.app.healthPath}` }];
  if (spec.platform === 'compose') {
    for (let i = 1; i <= spec.app.replicas; i++) out.push({ name: `app${i}`, kind: 'app', what: `app instance ${i} of ${spec.app.replicas}`, ports: appPorts });
  } else {
    out.push({ name: `${prefix}app`, kind: 'app', what: `app, ${spec.app.replicas} replicas (one per node)`, ports: appPorts });
  }
  for (const m of containerDb(spec)) {
    const ports: PlanPort[] = [{ port: spec.database.port, exposure: 'internal', what: 'PostgreSQL' }];
    if (spec.database.ha === 'patroni') ports.push({ port: PATRONI_REST_PORT, exposure: 'internal', what: 'Patroni REST API' });
    out.push({ name: `${prefix}${m.name}`, kind: 'db', what: m.name === 'db' && spec.database.ha === 'streaming' ? 'PostgreSQL primary' : m.name.startsWith('db-replica') ? 'PostgreSQL streaming standby' : dbWhat(spec), ports });
  }
  if (spec.database.ha === 'patroni') {
    out.push({ name: `${prefix}db-endpoint`, kind: 'db-endpoint', what: 'database endpoint: writes to the Patroni leader', ports: [{ port: spec.database.endpointPorts.write, exposure: 'internal', what: 'writes' }, { port: spec.database.endpointPorts.read, exposure: 'internal', what: 'reads' }] });
    const etcd = etcdMembers(spec);
    etcd.forEach((e, i) => out.push({ name: `${prefix}${e}`, kind: 'etcd', what: `etcd member ${i + 1} of ${etcd.length}`, ports: [{ port: ETCD_CLIENT_PORT, exposure: 'internal', what: 'clients' }, { port: ETCD_PEER_PORT, exposure: 'internal', what: 'peers' }] }));
  }
  if (spec.storage.kind === 's3') out.push({ ...storageService(spec), name: `${prefix}minio` });
  out.push({ name: `${prefix}backup`, kind: 'backup', what: `scheduled pgBackRest backup (${spec.backup.time} UTC) and pg_dump`, ports: [] });
  return out;
}

function containerTopology(spec: Spec): Topology {
  const swarm = spec.platform === 'swarm';
  const prefix = swarm ? `${spec.name}_` : '';
  const services = containerServices(spec, prefix);
  const db = containerDb(spec);
  let hosts: PlanHost[];
  if (!swarm) {
    hosts = [{ name: 'docker-host', roles: ['lb', 'app', 'db', ...(spec.storage.kind === 's3' ? ['storage'] : [])], services }];
  } else {
    // Swarm places services by node label (deploy.sh label NODE ROLE).
    const by = (k: PlanService['kind'][]) => services.filter((s) => k.includes(s.kind));
    hosts = [
      { name: 'nodes labelled lb=true', roles: ['lb'], services: by(['lb']) },
      { name: 'nodes labelled app=true', roles: ['app'], services: by(['app']) },
      { name: 'nodes labelled database=*', roles: ['db'], services: by(['db', 'db-endpoint', 'backup']) },
      ...(spec.database.ha === 'patroni' ? [{ name: 'nodes labelled etcd=*', roles: ['etcd'], services: by(['etcd']) }] : []),
      ...(spec.storage.kind === 's3' ? [{ name: 'nodes labelled storage=true', roles: ['storage'], services: by(['storage']) }] : []),
    ];
  }
  return {
    platform: spec.platform,
    name: spec.name,
    lbService: `${prefix}${spec.loadBalancer.kind}`,
    lbAddresses: ['localhost'],
    appService: swarm ? `${prefix}app` : 'app',
    apps: swarm ? Array.from({ length: spec.app.replicas }, (_, i) => ({ name: `${prefix}app.${i + 1}`, host: `${prefix}app.${i + 1}`, address: `${prefix}app.${i + 1}` })) : Array.from({ length: spec.app.replicas }, (_, i) => ({ name: `app${i + 1}`, host: `app${i + 1}`, address: `app${i + 1}` })),
    dbService: `${prefix}${db[0]!.name}`,
    db: db.map((m) => ({ ...m, name: `${prefix}${m.name}` })),
    etcd: spec.database.ha === 'patroni' ? etcdMembers(spec).map((e) => ({ name: `${prefix}${e}`, address: e, host: e })) : [],
    dbEndpoint: spec.database.ha === 'patroni' ? { host: 'db-endpoint', port: spec.database.endpointPorts.write } : { host: 'db', port: spec.database.port },
    backupService: `${prefix}backup`,
    hosts,
  };
}

export function topologyOf(spec: Spec): Topology {
  return spec.platform === 'hosts' ? hostsTopology(spec) : containerTopology(spec);
}
