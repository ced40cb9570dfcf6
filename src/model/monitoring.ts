/**
 * Monitoring on every platform: where Prometheus, Alertmanager and the exporters run, their ports,
 * and every scrape (`metrics`), notification and Alertmanager gossip (`alerts`) as links. The
 * monitoring target renders prometheus.yml from `Deployment.monitoring`, so what is scraped and
 * what the firewall lets in come from the same list.
 */
import type { Host, Role, Spec } from '../spec/schema.js';
import { ETCD_CLIENT_PORT, ETCD_METRICS_PORT, LB_HEALTH_PATH, PATRONI_REST_PORT } from './constants.js';
import type { Link, LinkTarget, ModelHost, ModelPort, ModelService, MonitoringModel, ProbeJob, ScrapeJob } from './types.js';

export const PROMETHEUS_PORT = 9090;
export const ALERTMANAGER_PORT = 9093;
/** Alertmanager's cluster gossip (TCP and UDP). */
export const ALERTMANAGER_CLUSTER_PORT = 9094;
export const NODE_EXPORTER_PORT = 9100;
export const POSTGRES_EXPORTER_PORT = 9187;
export const BLACKBOX_PORT = 9115;
export const NGINX_EXPORTER_PORT = 9113;
/** The LB's own metrics listener: HAProxy's prometheus-exporter frontend, Caddy's metrics site, nginx's stub_status (localhost). */
export const LB_METRICS_PORT = 8405;

/** Every fixed monitoring port and what listens there (the spec's rules refuse a clash). */
export const MONITORING_PORTS: Record<number, string> = {
  [PROMETHEUS_PORT]: 'Prometheus', [ALERTMANAGER_PORT]: 'Alertmanager', [ALERTMANAGER_CLUSTER_PORT]: 'Alertmanager\'s cluster', [NODE_EXPORTER_PORT]: 'the node exporter',
  [POSTGRES_EXPORTER_PORT]: 'the postgres exporter', [BLACKBOX_PORT]: 'the blackbox exporter', [NGINX_EXPORTER_PORT]: 'the nginx exporter', [LB_METRICS_PORT]: 'the load balancer\'s metrics listener',
};

/** Debian's unit names (the bundle's units replace the packaged ones in /etc/systemd/system). */
export const MONITORING_UNITS = {
  prometheus: 'prometheus',
  alertmanager: 'prometheus-alertmanager',
  node: 'prometheus-node-exporter',
  postgres: 'prometheus-postgres-exporter',
  blackbox: 'prometheus-blackbox-exporter',
  nginx: 'prometheus-nginx-exporter',
} as const;

/**
 * The hosts that run Prometheus and Alertmanager: the first two app hosts (there is always at least
 * one; two give the HA tiers a monitoring that survives the loss of either), else the lb hosts.
 */
export function monitoringHostsOf(spec: Spec, byRole: Record<Role, Host[]>): Host[] {
  const n = spec.tier === 'single-server' ? 1 : 2;
  const pool = byRole.app.length >= n || !byRole.lb.length ? byRole.app : byRole.lb;
  return pool.slice(0, n);
}

interface Add {
  (h: Host, s: Omit<ModelService, 'packages'> & { packages?: string[] }): void;
}

/** Adds the monitoring services to the hosts and returns the links and the scrape plan. */
export function hostsMonitoring(spec: Spec, byRole: Record<Role, Host[]>, add: Add, bindOf: (h: Host) => string, front: LinkTarget[]): { links: Link[]; model: MonitoringModel } {
  const links: Link[] = [];
  const mon = monitoringHostsOf(spec, byRole);
  const to = (h: Host, port: number): LinkTarget => ({ to: h.name, address: h.address, port });
  const port = (h: Host, p: number, what: string, proto: 'tcp' | 'udp' = 'tcp'): ModelPort => ({ port: p, proto, bind: bindOf(h), exposure: 'internal', what });
  const kind = spec.loadBalancer.kind;

  for (const h of mon) {
    add(h, { id: 'prometheus', name: MONITORING_UNITS.prometheus, unit: MONITORING_UNITS.prometheus, kind: 'monitoring', what: `Prometheus ${mon.indexOf(h) + 1} of ${mon.length}: scrapes every target, evaluates the alert rules, sends to every Alertmanager`, ports: [port(h, PROMETHEUS_PORT, 'Prometheus (web, API)')], packages: ['prometheus'], order: 80 });
    add(h, {
      id: 'alertmanager', name: MONITORING_UNITS.alertmanager, unit: MONITORING_UNITS.alertmanager, kind: 'monitoring',
      what: mon.length > 1 ? `Alertmanager peer ${mon.indexOf(h) + 1} of ${mon.length} (the cluster sends each notification once)` : 'Alertmanager',
      ports: [port(h, ALERTMANAGER_PORT, 'Alertmanager (web, API)'), ...(mon.length > 1 ? [port(h, ALERTMANAGER_CLUSTER_PORT, 'Alertmanager cluster gossip (TCP)'), port(h, ALERTMANAGER_CLUSTER_PORT, 'Alertmanager cluster gossip (UDP)', 'udp')] : [])],
      packages: ['prometheus-alertmanager'], order: 79,
    });
    add(h, { id: 'blackbox', name: MONITORING_UNITS.blackbox, unit: MONITORING_UNITS.blackbox, kind: 'monitoring', what: `blackbox exporter: probes the front door's ${spec.app.healthPath}${spec.loadBalancer.tls === 'none' ? '' : ' and certificate'} and every app instance`, ports: [{ port: BLACKBOX_PORT, proto: 'tcp', bind: '127.0.0.1', exposure: 'localhost', what: 'blackbox exporter (this host\'s Prometheus only)' }], packages: ['prometheus-blackbox-exporter'], order: 78 });
  }
  for (const h of spec.hosts) add(h, { id: 'node-exporter', name: MONITORING_UNITS.node, unit: MONITORING_UNITS.node, kind: 'monitoring', what: 'node exporter: CPU, memory, file systems, the backup\'s last success (textfile collector)', ports: [port(h, NODE_EXPORTER_PORT, 'node exporter')], packages: ['prometheus-node-exporter'], order: 77 });
  for (const h of byRole.db) add(h, { id: 'postgres-exporter', name: MONITORING_UNITS.postgres, unit: MONITORING_UNITS.postgres, kind: 'monitoring', what: 'postgres exporter: replication, slots, WAL archiving', ports: [port(h, POSTGRES_EXPORTER_PORT, 'postgres exporter')], packages: ['prometheus-postgres-exporter'], order: 77 });
  if (kind === 'nginx') for (const h of byRole.lb) add(h, { id: 'nginx-exporter', name: MONITORING_UNITS.nginx, unit: MONITORING_UNITS.nginx, kind: 'monitoring', what: 'nginx exporter: reads nginx\'s stub_status on localhost', ports: [port(h, NGINX_EXPORTER_PORT, 'nginx exporter')], packages: ['prometheus-nginx-exporter'], order: 77 });

  const jobs: ScrapeJob[] = [];
  const job = (j: ScrapeJob) => j.targets.length && jobs.push(j);
  job({ job: 'prometheus', path: '/metrics', targets: mon.map((h) => to(h, PROMETHEUS_PORT)), what: 'each Prometheus (each watches the other)' });
  job({ job: 'alertmanager', path: '/metrics', targets: mon.map((h) => to(h, ALERTMANAGER_PORT)), what: 'every Alertmanager peer' });
  job({ job: 'node', path: '/metrics', targets: spec.hosts.map((h) => to(h, NODE_EXPORTER_PORT)), what: 'node exporter on every host' });
  job({ job: 'postgres', path: '/metrics', targets: byRole.db.map((h) => to(h, POSTGRES_EXPORTER_PORT)), what: 'postgres exporter on every database host' });
  if (spec.database.ha === 'patroni') {
    job({ job: 'patroni', path: '/metrics', targets: byRole.db.map((h) => to(h, PATRONI_REST_PORT)), what: 'Patroni /metrics on every member (HTTPS, the bundle\'s CA)', tls: true });
    job({ job: 'etcd', path: '/metrics', targets: byRole.etcd.map((h) => to(h, ETCD_METRICS_PORT)), what: 'etcd /metrics on every member (its plain metrics port)' });
  }
  if (kind === 'nginx') job({ job: 'lb', path: '/metrics', targets: byRole.lb.map((h) => to(h, NGINX_EXPORTER_PORT)), what: 'nginx exporter on every lb host' });
  else job({ job: 'lb', path: '/metrics', targets: byRole.lb.map((h) => to(h, LB_METRICS_PORT)), what: `${kind}'s metrics listener on every lb host` });
  // Blackbox probes: Prometheus asks its local exporter, which connects to the target.
  const probes: MonitoringModel['probes'] = [
    { job: 'app-health', module: 'http_health', targets: byRole.app.map((h) => ({ ...to(h, spec.app.port), url: `http://${h.address}:${spec.app.port}${spec.app.healthPath}` })), what: `every app instance's ${spec.app.healthPath}` },
    { job: 'front-health', module: spec.loadBalancer.tls === 'none' ? 'http_health' : 'https_health', targets: front.map((t) => ({ ...t, url: `${spec.loadBalancer.tls !== 'none' ? 'https' : 'http'}://${t.address}:${t.port}${spec.app.healthPath}` })), what: `the front door's ${spec.app.healthPath} (through the load balancer)` },
  ];
  if (spec.loadBalancer.floatingAddress && front.some((t) => t.to === 'floating')) {
    const fa = front.find((t) => t.to === 'floating')!;
    probes.push({ job: 'floating', module: 'http_health', targets: [{ ...fa, port: spec.loadBalancer.httpPort, url: `http://${fa.address}:${spec.loadBalancer.httpPort}${LB_HEALTH_PATH}` }], what: `${LB_HEALTH_PATH} on the floating address (answered by whichever lb host holds it)` });
  }

  for (const m of mon) {
    for (const j of jobs) links.push({ from: m.name, purpose: 'metrics', proto: 'tcp', targets: j.targets, failover: 'auto', optional: true, what: `Prometheus scrapes ${j.what}` });
    for (const p of probes) links.push({ from: m.name, purpose: p.job === 'app-health' ? 'metrics' : p.module === 'https_health' ? 'https' : 'http', proto: 'tcp', targets: p.targets.map(({ to: t, address, port: pt }) => ({ to: t, address, port: pt })), failover: 'auto', optional: true, what: `the blackbox exporter probes ${p.what}` });
    links.push({ from: m.name, purpose: 'alerts', proto: 'tcp', targets: mon.map((h) => to(h, ALERTMANAGER_PORT)), failover: 'auto', optional: true, what: 'Prometheus sends alerts to every Alertmanager (they deduplicate)' });
    const peers = mon.filter((o) => o !== m);
    if (peers.length) {
      for (const proto of ['tcp', 'udp'] as const) links.push({ from: m.name, purpose: 'alerts', proto, targets: peers.map((o) => to(o, ALERTMANAGER_CLUSTER_PORT)), failover: 'auto', optional: true, what: `Alertmanager cluster gossip (${proto.toUpperCase()})` });
    }
  }
  return { links, model: { prometheus: mon.map((h) => h.name), alertmanager: mon.map((h) => h.name), jobs, probes } };
}

/** Container service names of the monitoring services (swarm: inside the stack, `<stack>_` in front). */
export const MONITORING_SERVICES = {
  prometheus: 'prometheus',
  alertmanager: 'alertmanager',
  node: 'node-exporter',
  blackbox: 'blackbox',
  nginx: 'nginx-exporter',
  postgres: (member: string) => `postgres-exporter-${member}`,
} as const;

/** swarm: the node label of the nodes that run Prometheus and Alertmanager (one of each per node). */
export const MONITORING_LABEL = 'monitoring=true';

export interface ContainerParts {
  swarm: boolean;
  prefix: string;
  lbHosts: ModelHost[];
  appHosts: ModelHost[];
  /** Database members: placement group and service name (db, db-replica, db1..). */
  db: Array<{ host: ModelHost; member: string }>;
  etcd: Array<{ host: ModelHost; member: string }>;
  /** The placement group of the monitoring node `i` (swarm), or the one server (compose). */
  place: (i: number) => ModelHost;
  /** Every placement group a global service runs on (swarm), or the one server: asked after the monitoring nodes exist. */
  nodes: () => ModelHost[];
  add: (h: ModelHost, s: Omit<ModelService, 'packages' | 'order'> & { order?: number }) => void;
}

/**
 * Monitoring on compose and swarm: the same jobs and probes as on hosts, aimed at container service
 * names. compose: one of each on the one server (single-server). swarm: Prometheus and Alertmanager
 * twice (one per node labelled monitoring=true), the node exporter on every node, a postgres exporter
 * beside each member; replicated and global services are found by DNS (tasks.<service>, the address
 * of every task: the service's virtual address is not used), single ones by their tasks name.
 */
export function containersMonitoring(spec: Spec, c: ContainerParts, links: Link[]): MonitoringModel {
  const n = spec.tier === 'single-server' || !c.swarm ? 1 : 2;
  const S = MONITORING_SERVICES;
  const mon = Array.from({ length: n }, (_, i) => c.place(i));
  const nodes = c.nodes();
  // compose publishes the two web UIs on the host's loopback only; swarm publishes none of them.
  const ui = (p: number, what: string): ModelPort => (c.swarm ? { port: p, proto: 'tcp', bind: '0.0.0.0', exposure: 'internal', what } : { port: p, proto: 'tcp', bind: '127.0.0.1', exposure: 'localhost', what: `${what}, published on 127.0.0.1 only` });
  const internal = (p: number, what: string, proto: 'tcp' | 'udp' = 'tcp'): ModelPort => ({ port: p, proto, bind: '0.0.0.0', exposure: 'internal', what });
  // Where Prometheus reaches a service: a one-task service by its name (compose) or tasks name (swarm).
  const addr = (svc: string) => (c.swarm ? `tasks.${svc}` : svc);
  const to = (h: ModelHost, svc: string, port: number): LinkTarget => ({ to: h.name, address: addr(svc), port });
  const kind = spec.loadBalancer.kind;
  const patroni = spec.database.ha === 'patroni';

  mon.forEach((h, i) => {
    c.add(h, { id: 'prometheus', name: `${c.prefix}${S.prometheus}`, kind: 'monitoring', what: `Prometheus ${i + 1} of ${n}: scrapes every target, evaluates the alert rules, sends to every Alertmanager`, ports: [ui(PROMETHEUS_PORT, 'Prometheus (web, API)')], order: 80 });
    c.add(h, {
      id: 'alertmanager', name: `${c.prefix}${S.alertmanager}`, kind: 'monitoring', what: n > 1 ? `Alertmanager peer ${i + 1} of ${n} (the cluster sends each notification once)` : 'Alertmanager',
      ports: [ui(ALERTMANAGER_PORT, 'Alertmanager (web, API)'), ...(n > 1 ? [internal(ALERTMANAGER_CLUSTER_PORT, 'Alertmanager cluster gossip (TCP)'), internal(ALERTMANAGER_CLUSTER_PORT, 'Alertmanager cluster gossip (UDP)', 'udp')] : [])], order: 79,
    });
    c.add(h, { id: 'blackbox', name: `${c.prefix}${S.blackbox}`, kind: 'monitoring', what: `blackbox exporter: probes the front door's ${spec.app.healthPath}${spec.loadBalancer.tls === 'none' ? '' : ' and certificate'} and every app instance`, ports: [internal(BLACKBOX_PORT, 'blackbox exporter (not published)')], order: 78 });
  });
  for (const h of nodes) c.add(h, { id: 'node-exporter', name: `${c.prefix}${S.node}`, kind: 'monitoring', what: 'node exporter: CPU, memory and file systems of the Docker host (its root file system mounted read-only)', ports: [internal(NODE_EXPORTER_PORT, 'node exporter (not published)')], order: 77 });
  for (const d of c.db) c.add(d.host, { id: `postgres-exporter-${d.member}`, name: `${c.prefix}${S.postgres(d.member)}`, kind: 'monitoring', what: `postgres exporter of ${d.member}: replication, slots, WAL archiving (through its socket, as postgres)`, ports: [internal(POSTGRES_EXPORTER_PORT, 'postgres exporter (not published)')], order: 77 });
  const nginxExp = kind === 'nginx' ? (c.swarm ? c.lbHosts.slice(0, 1) : c.lbHosts) : [];
  for (const h of nginxExp) c.add(h, { id: 'nginx-exporter', name: `${c.prefix}${S.nginx}`, kind: 'monitoring', what: c.swarm ? 'nginx exporter: reads stub_status of an nginx task (tasks.nginx)' : 'nginx exporter: reads nginx\'s stub_status on its localhost (shares the nginx container\'s network)', ports: [internal(NGINX_EXPORTER_PORT, 'nginx exporter (not published)')], order: 77 });

  const jobs: ScrapeJob[] = [];
  const job = (j: ScrapeJob) => j.targets.length && jobs.push(j);
  const dns = c.swarm;
  job({ job: 'prometheus', path: '/metrics', targets: mon.map((h) => to(h, S.prometheus, PROMETHEUS_PORT)), what: 'each Prometheus (each watches the other)', ...(dns ? { dns } : {}) });
  job({ job: 'alertmanager', path: '/metrics', targets: mon.map((h) => to(h, S.alertmanager, ALERTMANAGER_PORT)), what: 'every Alertmanager peer', ...(dns ? { dns } : {}) });
  job({ job: 'node', path: '/metrics', targets: nodes.map((h) => to(h, S.node, NODE_EXPORTER_PORT)), what: 'node exporter on every Docker host', ...(dns ? { dns } : {}) });
  job({ job: 'postgres', path: '/metrics', targets: c.db.map((d) => to(d.host, S.postgres(d.member), POSTGRES_EXPORTER_PORT)), what: 'the postgres exporter of every database member' });
  if (patroni) {
    job({ job: 'patroni', path: '/metrics', targets: c.db.map((d) => to(d.host, d.member, PATRONI_REST_PORT)), what: 'Patroni /metrics on every member (HTTPS, the bundle\'s CA)', tls: true });
    job({ job: 'etcd', path: '/metrics', targets: c.etcd.map((e) => to(e.host, e.member, ETCD_METRICS_PORT)), what: 'etcd /metrics on every member (its plain metrics port)' });
  }
  // compose: the exporter lives in nginx's network namespace, so it answers at nginx's name.
  if (kind === 'nginx') job({ job: 'lb', path: '/metrics', targets: nginxExp.map((h) => to(h, c.swarm ? S.nginx : kind, NGINX_EXPORTER_PORT)), what: 'the nginx exporter' });
  else job({ job: 'lb', path: '/metrics', targets: c.lbHosts.map((h) => to(h, kind, LB_METRICS_PORT)), what: `${kind}'s metrics listener on every load balancer`, ...(dns ? { dns } : {}) });

  const tls = spec.loadBalancer.tls !== 'none';
  const scheme = tls ? 'https' : 'http';
  const frontPort = tls ? spec.loadBalancer.httpsPort : spec.loadBalancer.httpPort;
  const probes: ProbeJob[] = c.swarm
    ? [
        { job: 'app-health', module: 'http_health', targets: c.appHosts.map((h) => ({ to: h.name, address: 'tasks.app', port: spec.app.port, url: `http://tasks.app:${spec.app.port}${spec.app.healthPath}` })), what: `every app task's ${spec.app.healthPath}`, dns: { scheme: 'http', path: spec.app.healthPath } },
        { job: 'front-health', module: tls ? 'https_health' : 'http_health', targets: c.lbHosts.map((h) => ({ to: h.name, address: `tasks.${kind}`, port: frontPort, url: `${scheme}://tasks.${kind}:${frontPort}${spec.app.healthPath}` })), what: `the front door's ${spec.app.healthPath} on every load balancer task`, dns: { scheme, path: spec.app.healthPath } },
      ]
    : [
        { job: 'app-health', module: 'http_health', targets: c.appHosts.map((h, i) => ({ to: h.name, address: `app${i + 1}`, port: spec.app.port, url: `http://app${i + 1}:${spec.app.port}${spec.app.healthPath}` })), what: `every app instance's ${spec.app.healthPath}` },
        { job: 'front-health', module: tls ? 'https_health' : 'http_health', targets: c.lbHosts.map((h) => ({ to: h.name, address: kind, port: frontPort, url: `${scheme}://${kind}:${frontPort}${spec.app.healthPath}` })), what: `the front door's ${spec.app.healthPath} (through the load balancer)` },
      ];

  for (const m of mon) {
    for (const j of jobs) links.push({ from: m.name, purpose: 'metrics', proto: 'tcp', targets: j.targets, failover: 'auto', optional: true, what: `Prometheus scrapes ${j.what}` });
    for (const p of probes) links.push({ from: m.name, purpose: p.job === 'app-health' ? 'metrics' : p.module === 'https_health' ? 'https' : 'http', proto: 'tcp', targets: p.targets.map(({ to: t, address, port: pt }) => ({ to: t, address, port: pt })), failover: 'auto', optional: true, what: `the blackbox exporter probes ${p.what}` });
    links.push({ from: m.name, purpose: 'metrics', proto: 'tcp', targets: mon.map((h) => to(h, S.blackbox, BLACKBOX_PORT)), failover: 'auto', optional: true, what: 'Prometheus asks a blackbox exporter for each probe' });
    links.push({ from: m.name, purpose: 'alerts', proto: 'tcp', targets: mon.map((h) => to(h, S.alertmanager, ALERTMANAGER_PORT)), failover: 'auto', optional: true, what: 'Prometheus sends alerts to every Alertmanager (they deduplicate)' });
    const peers = mon.filter((o) => o !== m);
    if (peers.length) for (const proto of ['tcp', 'udp'] as const) links.push({ from: m.name, purpose: 'alerts', proto, targets: peers.map((o) => to(o, S.alertmanager, ALERTMANAGER_CLUSTER_PORT)), failover: 'auto', optional: true, what: `Alertmanager cluster gossip (${proto.toUpperCase()})` });
  }
  // swarm nginx: the exporter reads stub_status of an nginx task over the edge network.
  if (kind === 'nginx' && c.swarm) for (const h of nginxExp) links.push({ from: h.name, purpose: 'metrics', proto: 'tcp', targets: c.lbHosts.map((l) => to(l, kind, LB_METRICS_PORT)), failover: 'auto', optional: true, what: 'the nginx exporter reads stub_status' });
  const names = mon.map((h) => h.name);
  return { prometheus: names, alertmanager: names, jobs, probes };
}
