/**
 * Monitoring on platform hosts: where Prometheus, Alertmanager and the exporters run, their ports,
 * and every scrape (`metrics`), notification and Alertmanager gossip (`alerts`) as links. The
 * monitoring target renders prometheus.yml from `Deployment.monitoring`, so what is scraped and
 * what the firewall lets in come from the same list.
 */
import type { Host, Role, Spec } from '../spec/schema.js';
import { ETCD_METRICS_PORT, LB_HEALTH_PATH, PATRONI_REST_PORT } from './constants.js';
import type { Link, LinkTarget, ModelPort, ModelService, MonitoringModel, ScrapeJob } from './types.js';

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
