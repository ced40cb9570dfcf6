/**
 * Ports, unit names and paths that more than one part of ha-gen needs: defined once, here.
 * Plain data and small functions of the spec; no zod, no rendering.
 */
import type { Spec } from '../spec/schema.js';

export const PATRONI_REST_PORT = 8008;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** etcd's /metrics and /health in plain HTTP on a port of their own: the client port takes only certificates of the bundle's CA, and a scraper must not be an etcd client. */
export const ETCD_METRICS_PORT = 2381;
export const MINIO_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;
export const NFS_PORT = 2049;
export const GLUSTERD_PORT = 24007;
/** GlusterFS brick ports start here (one per brick on a server). */
export const GLUSTER_BRICK_PORT = 49152;
/** certbot's standalone HTTP-01 listener on an lb host (localhost only; the LB proxies to it). */
export const CERTBOT_PORT = 8888;
/** VRRP is IP protocol 112, not a port: flows with proto vrrp carry it in `port`. */
export const VRRP_PROTOCOL = 112;

/** The database endpoint (HAProxy in front of Patroni) on platform hosts. */
export const DB_ENDPOINT_UNIT = 'haproxy-db';
export const DB_ENDPOINT_CONFIG = '/etc/haproxy/haproxy-db.cfg';

/** Host folders without "-", so a .mount unit's name needs no \x2d escaping. */
export const nameSlug = (spec: Pick<Spec, 'name'>) => spec.name.replaceAll('-', '_');

export const unitNames = (spec: Pick<Spec, 'name' | 'database'>) => ({
  app: `${spec.name}-app`,
  appGreen: `${spec.name}-app-green`,
  backup: `${spec.name}-backup`,
  dump: `${spec.name}-dump`,
  acme: `${spec.name}-acme`,
  minio: `${spec.name}-minio`,
  postgres: `postgresql@${spec.database.version}-main`,
  uploadsMount: `srv-${nameSlug(spec)}-uploads.mount`,
  firewall: `${spec.name}-firewall`,
});

/** Debian's PostgreSQL layout for a major version. */
export const pgPaths = (v: number) => ({
  bin: `/usr/lib/postgresql/${v}/bin`,
  data: `/var/lib/postgresql/${v}/main`,
  conf: `/etc/postgresql/${v}/main`,
  socket: '/var/run/postgresql',
});

/** The official postgres image of a major version. */
export const pgImage = (v: number) => `postgres:${v}`;

/** Data folder of the official postgres image (18 moved it up one level). */
export const pgImageData = (v: number) => (v >= 18 ? '/var/lib/postgresql' : '/var/lib/postgresql/data');

export const uploadsDir = (spec: Pick<Spec, 'name'>) => `/srv/${nameSlug(spec)}/uploads`;

/** Blue-green on hosts: the green instance of each app host listens on the next port. */
export const greenPort = (spec: Pick<Spec, 'app'>) => spec.app.port + 1;

/** The load balancer's own health path, for an outer load balancer or DNS failover. */
export const LB_HEALTH_PATH = '/lb-health';

export const isIpv4 = (a: string) => /^[0-9]+(?:\.[0-9]+){3}$/.test(a);

/** ha-gen's TLS helper on an lb host (placeholder certificate, certbot hooks, HAProxy's one PEM). */
export const tlsScriptPath = (name: string) => `/usr/local/sbin/${name}-tls`;
export const acmeUnitName = (name: string) => `${name}-acme`;

/** The role the other regions' subscriptions connect as (multi-region logical replication). */
export const LOGICAL_USER = 'logical_replicator';
