/** What compose and swarm share for the database: member names, Patroni/etcd configs, the endpoint. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { composeVar, SECRETS } from '../secrets.js';
import { PATRONI_SECRETS } from './secrets.js';
import { renderHba, patroniYaml, renderPostBootstrap, etcdUserSecrets } from './hosts.js';
import { etcdUserVars, hbaLines, patroniConfig } from '../patroni/index.js';
import { renderEtcdAuthScript, renderEtcdConfig, type EtcdMember } from '../etcd/index.js';
import { renderDbEndpoint } from '../db-endpoint/index.js';
import { backupMetricsDir } from '../backup/index.js';
import { CA_CERT, DB_ENDPOINT_CA, DB_ENDPOINT_TLS, ETCD_TLS, PATRONI_TLS, PROMETHEUS_TLS, containerCert, containerPkiFiles, tlsPaths, type ContainerPkiUse } from '../pki.js';
import { MONITORING_SERVICES } from '../../model/monitoring.js';
import dockerfile from '../../../templates/patroni/Dockerfile.hbs?raw';

export { pgImageData as PG_IMAGE_DATA } from '../../model/constants.js';
import { pgImageData as PG_IMAGE_DATA } from '../../model/constants.js';
export const CONTAINER_BIN = (v: number) => `/usr/lib/postgresql/${v}/bin`;
export const CONTAINER_SOCKET = '/var/run/postgresql';
export const ETCD_IMAGE = 'gcr.io/etcd-development/etcd:v3.5.17';
export const HAPROXY_IMAGE = 'haproxy:2.8';

export const patroniImage = (spec: Spec) => `${spec.name}-patroni:${spec.database.version}-${spec.database.patroniVersion}`;
export { replicaNames, patroniMembers, etcdMembers } from '../../model/containers.js';
import { patroniMembers, etcdMembers } from '../../model/containers.js';

/**
 * Who each image runs as, so that a key is readable by its service only: the official etcd image has
 * no USER (root), the postgres image (and the Patroni image built FROM it) runs Patroni as postgres
 * 999, the haproxy image as haproxy 99, Prometheus as nobody 65534.
 */
export const CONTAINER_UIDS = { etcd: 0, postgres: 999, haproxy: 99, nobody: 65534 } as const;

/** The one-shot service that turns on etcd's users and roles (templates/etcd/etcd-auth.sh.hbs). */
export const ETCD_AUTH_SERVICE = 'etcd-auth';
export const ETCD_AUTH_FILE = 'etcd/etcd-auth.sh';
export const ETCD_AUTH_TARGET = '/usr/local/lib/ha-gen/etcd-auth.sh';
/** Its client certificate of the bundle's CA, in the Patroni image (which has curl and etcdctl). */
const ETCD_AUTH_TLS = tlsPaths('/etc/etcd-auth/pki');

/** Patroni's PATRONI_* variables from .env, for a container's environment (with etcd's user for Patroni). */
export function patroniEnvironment(spec: Spec, interp: (n: string) => string = composeVar): Record<string, string> {
  const etcd = etcdUserVars(spec);
  return {
    ...Object.fromEntries([...Object.values(PATRONI_SECRETS).map((s) => s.name), etcd.user, etcd.password].map((n) => [n, interp(n)])),
    // Patroni 3.0.2 reads PATRONI_ETCD_USERNAME/_PASSWORD only when another PATRONI_ETCD_* variable is set.
    [etcd.protocol]: 'https',
  };
}

/** The .env names of etcd's users (root for the etcd-auth step, Patroni's), as on hosts. */
export function etcdSecrets(spec: Spec, b: BundleBuilder): { root: string; patroni: string; patroniUser: string } {
  const s = etcdUserSecrets(spec);
  for (const d of Object.values(s)) b.secret(d);
  return { root: s.root.name, patroni: s.password.name, patroniUser: s.user.name };
}

export interface PatroniContainers {
  members: string[];
  etcd: string[];
  /** The pki/ files each service gets (compose: a volume filled by pki-init; swarm: secrets). */
  pki: ContainerPkiUse[];
}

/**
 * Files of a Patroni cluster in containers: per-member patroni.yml and etcd config, the etcd-auth
 * step, Dockerfile, endpoint; and the certificates of the bundle's CA they use (made at the edge in
 * pki/ like on hosts): every etcd member and Patroni member its own, named for the service name the
 * others dial (and tasks.<name> on Swarm, where Prometheus scrapes by it).
 */
export function addPatroniContainerFiles(spec: Spec, ctx: RenderContext, b: BundleBuilder, o: { certPrefix?: string } = {}): PatroniContainers {
  const v = spec.database.version;
  const members = patroniMembers(spec);
  const etcd = etcdMembers(spec);
  const swarm = spec.platform === 'swarm';
  const cert = (service: string) => {
    const c = containerCert(spec.name, o.certPrefix ?? '', service, swarm ? [`tasks.${service}`] : []);
    b.cert(c);
    return c.name;
  };
  const pki: ContainerPkiUse[] = [];
  const sec = etcdSecrets(spec, b);
  const hba = hbaLines(renderHba(spec, ctx, { clients: ['samenet'], replicationFrom: ['samenet'], rewindFrom: ['samenet'], samenet: true }));
  for (const m of members) {
    const cfg = patroniConfig(spec, { name: m, connect: m, listen: '0.0.0.0' }, etcd, { postBootstrap: '/etc/patroni/post-bootstrap.sh', dataDir: `${PG_IMAGE_DATA(v)}/pgdata`, binDir: CONTAINER_BIN(v), socketDir: CONTAINER_SOCKET, pgpass: '/tmp/pgpass' }, hba, PATRONI_TLS);
    b.add(`patroni/${m}.yml`, patroniYaml(spec, ctx, cfg), { checks: [{ tool: 'patroni' }, { tool: 'yaml' }] });
    pki.push({ service: m, dir: PATRONI_TLS.dir, files: containerPkiFiles(cert(m), PATRONI_TLS, CONTAINER_UIDS.postgres) });
  }
  b.add('patroni/post-bootstrap.sh', renderPostBootstrap(spec, ctx, '/etc/postgresql/init/app-role.psql'), { mode: 0o755, checks: [{ tool: 'shell' }] });
  const em: EtcdMember[] = etcd.map((n) => ({ name: n, address: n, listen: '0.0.0.0' }));
  for (const m of em) {
    b.add(`etcd/${m.name}.conf.yml`, renderEtcdConfig(spec, ctx, m, em, '/etcd-data', ETCD_TLS), { checks: [{ tool: 'etcd' }, { tool: 'yaml' }] });
    pki.push({ service: m.name, dir: ETCD_TLS.dir, files: containerPkiFiles(cert(m.name), ETCD_TLS, CONTAINER_UIDS.etcd) });
  }
  b.add(ETCD_AUTH_FILE, renderEtcdAuthScript(spec, ctx, { address: etcd[0]!, swarm, tls: ETCD_AUTH_TLS, patroniPasswordVar: sec.patroni }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  pki.push({ service: ETCD_AUTH_SERVICE, dir: ETCD_AUTH_TLS.dir, files: containerPkiFiles(cert(ETCD_AUTH_SERVICE), ETCD_AUTH_TLS, CONTAINER_UIDS.postgres) });
  b.add('patroni/Dockerfile', renderTemplate(dockerfile, { header: header(ctx).trimEnd(), image: patroniImage(spec), pgMajor: v, patroniVersion: spec.database.patroniVersion, caFile: PATRONI_TLS.ca, metricsDir: backupMetricsDir(spec) }));
  b.add('db-endpoint/haproxy-db.cfg', renderDbEndpoint(spec, ctx, { bind: '0.0.0.0', statsBind: '0.0.0.0', members: members.map((m) => ({ name: m, host: m })), docker: true, caFile: DB_ENDPOINT_CA }), { checks: [{ tool: 'haproxy' }] });
  // Clients of the REST API hold the CA only: the endpoint's checks, and Prometheus' scrape of /metrics.
  const caOnly = (service: string, p: ReturnType<typeof tlsPaths>): ContainerPkiUse => ({ service, dir: p.dir, files: [{ src: CA_CERT, path: p.ca, uid: 0, mode: 0o444 }] });
  pki.push(caOnly('db-endpoint', DB_ENDPOINT_TLS));
  if (spec.monitoring.enabled) pki.push(caOnly(MONITORING_SERVICES.prometheus, PROMETHEUS_TLS));
  b.resolveNames(...members, ...etcd, 'db-endpoint');
  return { members, etcd, pki };
}

export const STATS_ENV = { HAPROXY_STATS_PASSWORD: composeVar(SECRETS.haproxyStats.name) };
