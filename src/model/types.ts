/** The deployment model: who runs where and who talks to whom, computed once from the spec. */
import type { Role, Spec } from '../spec/schema.js';

export type Exposure = 'public' | 'internal' | 'localhost';

export interface ModelPort {
  port: number;
  proto: 'tcp' | 'udp';
  /** The address the listener binds: a host address, 0.0.0.0 (every interface) or 127.0.0.1. */
  bind: string;
  exposure: Exposure;
  what: string;
}

export type ServiceKind = 'firewall' | 'lb' | 'vrrp' | 'acme' | 'app' | 'db' | 'db-endpoint' | 'etcd' | 'storage' | 'storage-client' | 'backup' | 'monitoring';

export interface ModelService {
  /** Stable key within the host: targets attach deploy steps to it. */
  id: string;
  /** The name an operator types: systemd unit (hosts), compose service, or swarm `<stack>_<service>`. */
  name: string;
  /** hosts: the systemd unit deploy.sh enables and starts (with its suffix when not .service); absent for a setup step. */
  unit?: string;
  kind: ServiceKind;
  what: string;
  ports: ModelPort[];
  /** Debian packages the host needs for it (hosts). */
  packages: string[];
  /** Start order on the host: lower first (storage 10, etcd 20, db 30, endpoint 40, app 50, lb 60). */
  order: number;
}

export interface ModelHost {
  /** Inventory name (hosts), placement group (swarm) or the one server (compose). */
  name: string;
  address: string;
  region?: string;
  roles: Role[];
  /** swarm: the node label that places services there; compose/hosts: absent. */
  label?: string;
  /** Not deployed by this bundle (an existing NFS or GlusterFS server named in the spec). */
  external?: boolean;
  services: ModelService[];
}

export const PURPOSES = ['http', 'https', 'app', 'db-write', 'db-read', 'db-replication', 'patroni-api', 'etcd-client', 'etcd-peer', 'storage', 'vrrp', 'metrics', 'alerts', 'backup'] as const;
export type Purpose = (typeof PURPOSES)[number];

/**
 * How a connection finds another target when its target is lost:
 * auto (health checks, client retries or a quorum move it), dns (clients hold several records and
 * may retry another), manual (a person switches it), none (there is no other target).
 */
export type Failover = 'auto' | 'dns' | 'manual' | 'none';

export interface LinkTarget {
  /** A host name of the model, or "floating": the floating address, held by one of its holders at a time. */
  to: string;
  address: string;
  port: number;
}

/**
 * One need of one program: `from` connects for `purpose` to one of `targets` (the first is the
 * active one when failover is manual). With `quorum`, a majority of the targets must be up.
 */
export interface Link {
  from: string;
  purpose: Purpose;
  proto: 'tcp' | 'udp' | 'vrrp';
  targets: LinkTarget[];
  failover: Failover;
  quorum?: boolean;
  /** Losing it stops no request (backups, monitoring, a standby falling behind). */
  optional?: boolean;
  what: string;
}

/** One connection, as `plan --json` lists it (contract: flows). */
export interface Flow {
  from: string;
  to: string;
  address: string;
  port: number;
  proto: 'tcp' | 'udp' | 'vrrp';
  purpose: Purpose;
}

/** One Prometheus scrape job: its targets are the links' targets (purpose metrics). */
export interface ScrapeJob {
  job: string;
  path: string;
  targets: LinkTarget[];
  what: string;
  /** HTTPS with a certificate of the bundle's CA (Patroni's REST API), verified by the scraper. */
  tls?: boolean;
  /** swarm: find the tasks of a replicated or global service by DNS (tasks.<service>, type A) instead of listing them. */
  dns?: boolean;
}

/** A blackbox probe job: Prometheus asks its local blackbox exporter to fetch each URL. */
export interface ProbeJob {
  job: string;
  module: 'http_health' | 'https_health';
  targets: Array<LinkTarget & { url: string }>;
  what: string;
  /** swarm: probe every task found by DNS (tasks.<service>) at scheme://<task address>:port<path>. */
  dns?: { scheme: 'http' | 'https'; path: string };
}

export interface MonitoringModel {
  /** Hosts that run Prometheus, and Alertmanager peers (the same hosts). */
  prometheus: string[];
  alertmanager: string[];
  jobs: ScrapeJob[];
  probes: ProbeJob[];
}

export interface Deployment {
  name: string;
  tier: Spec['tier'];
  platform: Spec['platform'];
  hosts: ModelHost[];
  /** Host names per role, in inventory order (lb, app, db, etcd, storage). */
  members: Record<Role, string[]>;
  links: Link[];
  /** Where each app host's app connects for writes (its DATABASE_URL host and port). */
  dbWrite: Record<string, { address: string; port: number }>;
  /** Where operators and smoke.sh reach the front door. */
  front: Array<{ host: string; address: string }>;
  /** Floating addresses (keepalived/VRRP) and the hosts that can hold each. */
  floating: Array<{ address: string; holders: string[] }>;
  /** Names scripts use (compose service, swarm service or unit). */
  names: { lb: string; app: string; db: string; backup: string };
  regions?: Array<{ name: string; primary: boolean; deployment: Deployment }>;
  /** Monitoring (monitoring.enabled): absent when off. */
  monitoring?: MonitoringModel;
}
