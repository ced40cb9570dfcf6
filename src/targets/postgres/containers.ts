/** What compose and swarm share for the database: member names, Patroni/etcd configs, the endpoint. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { composeVar, SECRETS } from '../secrets.js';
import { PATRONI_SECRETS } from './secrets.js';
import { renderHba, patroniYaml, renderPostBootstrap } from './hosts.js';
import { hbaLines, patroniConfig } from '../patroni/index.js';
import { renderEtcdConfig, type EtcdMember } from '../etcd/index.js';
import { renderDbEndpoint } from '../db-endpoint/index.js';
import { backupMetricsDir } from '../backup/index.js';
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

/** Patroni's PATRONI_* variables from .env, for a container's environment. */
export function patroniEnvironment(interp: (n: string) => string = composeVar): Record<string, string> {
  return Object.fromEntries(Object.values(PATRONI_SECRETS).map((s) => [s.name, interp(s.name)]));
}

/** Files of a Patroni cluster in containers: per-member patroni.yml and etcd config, Dockerfile, endpoint. */
export function addPatroniContainerFiles(spec: Spec, ctx: RenderContext, b: BundleBuilder): { members: string[]; etcd: string[] } {
  const v = spec.database.version;
  const members = patroniMembers(spec);
  const etcd = etcdMembers(spec);
  const hba = hbaLines(renderHba(spec, ctx, { clients: ['samenet'], replicationFrom: ['samenet'], rewindFrom: ['samenet'], samenet: true }));
  for (const m of members) {
    const cfg = patroniConfig(spec, { name: m, connect: m, listen: '0.0.0.0' }, etcd, { postBootstrap: '/etc/patroni/post-bootstrap.sh', dataDir: `${PG_IMAGE_DATA(v)}/pgdata`, binDir: CONTAINER_BIN(v), socketDir: CONTAINER_SOCKET, pgpass: '/tmp/pgpass' }, hba);
    b.add(`patroni/${m}.yml`, patroniYaml(spec, ctx, cfg), { checks: [{ tool: 'patroni' }, { tool: 'yaml' }] });
  }
  b.add('patroni/post-bootstrap.sh', renderPostBootstrap(spec, ctx, '/etc/postgresql/init/app-role.psql'), { mode: 0o755, checks: [{ tool: 'shell' }] });
  const em: EtcdMember[] = etcd.map((n) => ({ name: n, address: n, listen: '0.0.0.0' }));
  for (const m of em) b.add(`etcd/${m.name}.conf.yml`, renderEtcdConfig(spec, ctx, m, em, '/etcd-data'), { checks: [{ tool: 'etcd' }, { tool: 'yaml' }] });
  b.add('patroni/Dockerfile', renderTemplate(dockerfile, { header: header(ctx).trimEnd(), image: patroniImage(spec), pgMajor: v, patroniVersion: spec.database.patroniVersion, metricsDir: backupMetricsDir(spec) }));
  b.add('db-endpoint/haproxy-db.cfg', renderDbEndpoint(spec, ctx, { bind: '0.0.0.0', statsBind: '0.0.0.0', members: members.map((m) => ({ name: m, host: m })), docker: true }), { checks: [{ tool: 'haproxy' }] });
  b.resolveNames(...members, ...etcd, 'db-endpoint');
  return { members, etcd };
}

export const STATS_ENV = { HAPROXY_STATS_PASSWORD: composeVar(SECRETS.haproxyStats.name) };
