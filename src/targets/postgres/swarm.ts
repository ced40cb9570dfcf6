/** PostgreSQL on platform swarm: services pinned by node label, passwords as Swarm secrets or from .env. */
import type { Spec } from '../../spec/schema.js';
import type { RenderContext } from '../../render/context.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';
import { configName, secretsEnvWrapper, swarmEnvSecret, swarmNetworksOf, type SwarmStack } from '../swarm/stack.js';
import { header } from '../../render/context.js';
import { PATRONI_SECRETS } from './secrets.js';
import { addAppRoleInit, renderPostgresConf } from './index.js';
import { SECRETS } from '../secrets.js';
import { addStreamingContainerFiles, PG_ARGS } from './compose.js';
import { addPatroniContainerFiles, ETCD_AUTH_FILE, ETCD_AUTH_SERVICE, ETCD_AUTH_TARGET, ETCD_IMAGE, HAPROXY_IMAGE, PG_IMAGE_DATA, patroniImage, replicaNames } from './containers.js';
import type { ContainerPkiUse } from '../pki.js';
import { etcdUserSecrets } from './hosts.js';
import { etcdUserVars } from '../patroni/index.js';
import { patroniSecrets } from './hosts.js';
import { slotName } from './streaming.js';
import { archiveSettings, backupImage, BACKUP_SCRIPTS, backupServiceName, DUMP_VOLUME, metricsVolumeNames, memberArchiveVolumes, memberBackupService, PGBACKREST_CONFIG, REPO_VOLUME, socketVolume, containerBackupFiles } from '../backup/index.js';

/**
 * The database tier's services (PostgreSQL, its standbys, Patroni members, etcd, the db-endpoint)
 * are reached by their DNS names resolving to the task addresses (endpoint_mode dnsrr), not through
 * a Swarm virtual IP:
 * - a VIP is IPVS: idle connections through it are dropped after IPVS's 900 s timeout, which cuts the
 *   app's pooled database connections, streaming replication and Patroni's etcd watches when they idle;
 * - each of these services runs one task (the db-endpoint two, and libpq tries every address a name
 *   resolves to), so a VIP buys no load balancing, and clients re-resolve when they reconnect;
 * - Patroni's connect_address, etcd's peer URLs and the db-endpoint's checks name these services:
 *   with dnsrr they keep working on hosts whose kernel has no IPVS, where a VIP does not route at all.
 * None of them publishes a port (dnsrr cannot use the ingress mesh; nothing here needs it).
 */
const DB_ENDPOINT_MODE = 'dnsrr';

const envVar = (n: string) => `\${${n}:?${n} is not set}`;

export interface SwarmDatabase {
  host: string;
  port: number;
  /** Patroni: the pki/ files each service gets as Swarm secrets (swarm/index.ts wires them once every service exists). */
  pki?: ContainerPkiUse[];
}

export function renderDatabaseSwarm(spec: Spec, ctx: RenderContext, b: BundleBuilder, stack: SwarmStack, o: { certPrefix?: string } = {}): SwarmDatabase {
  const v = spec.database.version;
  const ha = spec.database.ha;
  // Swarm has no relative bind mounts: files reach the services as configs (named by content hash).
  const backupFiles = containerBackupFiles(spec, ctx); // added to the bundle later, by the backup target
  const config = (key: string, file: string, target: string, mode = 0o444) => {
    const name = configName(spec, key, backupFiles[file] ?? b.contents(file));
    stack.configs[name] = { file: `./${file}` };
    return { source: name, target, mode };
  };
  if (ha === 'patroni') return renderPatroniSwarm(spec, ctx, b, stack, config, o.certPrefix ?? '');

  const streaming = ha === 'streaming';
  // Streaming: every member archives (only the primary does), as on compose; single: stack.backup.yml adds it.
  const conf = renderPostgresConf(spec, ctx, { role: streaming ? 'primary' : 'single', listen: '*', archive: streaming, ...(streaming ? { archiveCommand: archiveSettings(spec).archive_command } : {}) });
  b.add('postgres/postgresql.conf', conf, { checks: [{ tool: 'pg-conf' }] });
  addAppRoleInit(b, spec, ctx, 'postgres/init');
  if (streaming) {
    b.secret(SECRETS.replication);
    addStreamingContainerFiles(spec, ctx, b);
  }
  const configs = [
    config('pg_conf', 'postgres/postgresql.conf', '/etc/postgresql/postgresql.conf'),
    config('pg_init_sh', 'postgres/init/10-app-role.sh', '/docker-entrypoint-initdb.d/10-app-role.sh', 0o555),
    config('pg_init_psql', 'postgres/init/app-role.psql', '/docker-entrypoint-initdb.d/app-role.psql'),
    ...(streaming
      ? [
          config('pg_hba', 'postgres/pg_hba.conf', '/etc/postgresql/pg_hba.conf'),
          config('pg_repl_sh', 'postgres/init/20-replication-role.sh', '/docker-entrypoint-initdb.d/20-replication-role.sh', 0o555),
          config('pg_repl_psql', 'postgres/init/replication-role.psql', '/docker-entrypoint-initdb.d/replication-role.psql'),
          config('pg_stanza_sh', 'postgres/init/30-pgbackrest-stanza.sh', '/docker-entrypoint-initdb.d/30-pgbackrest-stanza.sh', 0o555),
          config('pg_monitor', 'postgres/monitor-replication.sql', '/etc/postgresql/monitor-replication.sql'),
        ]
      : []),
  ];
  const pwKey = 'postgres_password';
  stack.secrets[pwKey] = { name: `${spec.name}_postgres_password`, external: true };
  stack.secretEnv[pwKey] = SECRETS.pgSuper.name;
  const health = { test: ['CMD-SHELL', 'pg_isready -U postgres -d postgres'], interval: '5s', timeout: '3s', retries: 5, start_period: '30s' };
  const args = streaming ? [...PG_ARGS, '-c', 'hba_file=/etc/postgresql/pg_hba.conf'] : PG_ARGS;
  // Streaming members and their backup services run the backup image (postgres + pgBackRest), pushed to a registry.
  const image = streaming ? backupImage(spec) : `postgres:${v}`;
  // Passwords as Swarm secrets (files), never in the service's environment: POSTGRES_PASSWORD_FILE is
  // the image's own; the init scripts read APP_DB_PASSWORD/REPLICATION_PASSWORD, which the
  // secrets-env wrapper exports from /run/secrets before the image's entrypoint runs.
  const wrap = secretsEnvWrapper(spec, b, header(ctx), stack);
  const appPw = swarmEnvSecret(spec, stack, SECRETS.appDb);
  const replPw = streaming ? [swarmEnvSecret(spec, stack, SECRETS.replication)] : [];
  stack.services.db = {
    image,
    entrypoint: [...wrap.entrypoint, 'docker-entrypoint.sh'],
    command: ['postgres', ...args],
    environment: {
      POSTGRES_PASSWORD_FILE: `/run/secrets/${pwKey}`,
      POSTGRES_INITDB_ARGS: '--auth-host=scram-sha-256 --data-checksums',
    },
    secrets: [pwKey, appPw, ...replPw],
    volumes: [`pgdata:${PG_IMAGE_DATA(v)}`, ...(streaming ? memberArchiveVolumes(spec, 'db') : [])],
    configs: [...configs, wrap.config],
    healthcheck: health,
    stop_grace_period: '60s',
    networks: swarmNetworksOf(spec, 'db-member'),
    deploy: { replicas: 1, endpoint_mode: DB_ENDPOINT_MODE, placement: { constraints: ['node.labels.database == primary'] }, restart_policy: { condition: 'any', delay: '5s' } },
  };
  stack.volumes.pgdata = {};
  stack.labels.push({ label: 'database=primary', what: 'runs the PostgreSQL primary (its volume lives there)' });
  if (streaming) {
    const replicaConfigs = [
      config('pg_conf', 'postgres/postgresql.conf', '/etc/postgresql/postgresql.conf'),
      config('pg_hba', 'postgres/pg_hba.conf', '/etc/postgresql/pg_hba.conf'),
      config('pg_bootstrap', 'postgres/replica-bootstrap.sh', '/etc/postgresql/replica-bootstrap.sh', 0o555),
      config('pg_promote', 'postgres/promote.sh', '/etc/postgresql/promote.sh', 0o555),
      config('pg_monitor', 'postgres/monitor-replication.sql', '/etc/postgresql/monitor-replication.sql'),
      wrap.config,
    ];
    for (const r of replicaNames(spec)) {
      const label = `database=${r.replace(/^db-/, '')}`;
      stack.services[r] = {
        image,
        user: 'postgres',
        // Clones itself from db on first start (pg_basebackup), then runs as a hot standby.
        entrypoint: [...wrap.entrypoint, 'bash', '/etc/postgresql/replica-bootstrap.sh', '--start'],
        environment: { REPLICATION_SLOT: slotName(r), PGDATA: PG_IMAGE_DATA(v) },
        secrets: replPw,
        volumes: [`${r}-data:${PG_IMAGE_DATA(v)}`, ...memberArchiveVolumes(spec, r)],
        configs: replicaConfigs,
        healthcheck: health,
        stop_grace_period: '60s',
        networks: swarmNetworksOf(spec, 'db-member'),
        deploy: { replicas: 1, endpoint_mode: DB_ENDPOINT_MODE, placement: { constraints: [`node.labels.database == ${label.split('=')[1]}`] }, restart_policy: { condition: 'any', delay: '5s' } },
      };
      stack.volumes[`${r}-data`] = {};
      stack.labels.push({ label, what: `runs the standby ${r} (its volume lives there; not the primary's node)` });
    }
  }
  if (streaming) {
    const members = ['db', ...replicaNames(spec)];
    members.forEach((m) => {
      const svc = memberBackupService(spec, m, m === 'db' ? 'pgdata' : `${m}-data`, image);
      const place = (stack.services[m] as { deploy: { placement: unknown } }).deploy.placement;
      // restore-pitr.sh prints how to start the copy with the members' postgresql.conf.
      stack.services[backupServiceName(m)] = { ...svc, configs: [config('pg_conf', 'postgres/postgresql.conf', '/etc/postgresql/postgresql.conf')], networks: swarmNetworksOf(spec, 'backup'), deploy: { replicas: 1, placement: place, restart_policy: { condition: 'any', delay: '30s' } } };
      stack.volumes[socketVolume(m)] = {};
    });
    stack.volumes[REPO_VOLUME] = {};
    stack.volumes[DUMP_VOLUME] = {};
    for (const v of metricsVolumeNames(spec)) stack.volumes[v] = {};
  }
  return { host: 'db', port: spec.database.port };
}

type ConfigFn = (key: string, file: string, target: string, mode?: number) => { source: string; target: string; mode: number };

function renderPatroniSwarm(spec: Spec, ctx: RenderContext, b: BundleBuilder, stack: SwarmStack, config: ConfigFn, certPrefix: string): SwarmDatabase {
  const v = spec.database.version;
  patroniSecrets(b);
  b.secret(SECRETS.haproxyStats);
  const { members, etcd, pki } = addPatroniContainerFiles(spec, ctx, b, { certPrefix });
  addAppRoleInit(b, spec, ctx, 'postgres/init');
  for (const e of etcd) {
    stack.services[e] = {
      image: ETCD_IMAGE,
      command: ['etcd', '--config-file', '/etc/etcd/etcd.conf.yml'],
      volumes: [`${e}-data:/etcd-data`],
      configs: [config(`${e}_conf`, `etcd/${e}.conf.yml`, '/etc/etcd/etcd.conf.yml')],
      networks: swarmNetworksOf(spec, 'etcd'),
      deploy: { replicas: 1, endpoint_mode: DB_ENDPOINT_MODE, placement: { constraints: [`node.labels.etcd == ${e}`] }, restart_policy: { condition: 'any', delay: '2s' } },
    };
    stack.volumes[`${e}-data`] = {};
    stack.labels.push({ label: `etcd=${e}`, what: `runs etcd member ${e} (one per node: a quorum survives one node)` });
  }
  const wrap = secretsEnvWrapper(spec, b, header(ctx), stack);
  const shared = [config('pg_init_psql', 'postgres/init/app-role.psql', '/etc/postgresql/init/app-role.psql'), config('patroni_post', 'patroni/post-bootstrap.sh', '/etc/patroni/post-bootstrap.sh', 0o555), wrap.config];
  // Patroni reads its passwords from PATRONI_* variables only: they come as Swarm secrets, exported
  // by the secrets-env wrapper; the fixed user names stay plain environment.
  const etcdUser = etcdUserVars(spec);
  const etcdSecretDefs = etcdUserSecrets(spec);
  const all: SecretDef[] = [...Object.values(PATRONI_SECRETS), etcdSecretDefs.user, etcdSecretDefs.password];
  const names = all.filter((s) => s.value !== undefined);
  const passwords = [...all.filter((s) => s.value === undefined), SECRETS.appDb].map((s) => swarmEnvSecret(spec, stack, s));
  for (const m of members) {
    stack.services[m] = {
      // Built from patroni/Dockerfile and pushed to a registry every node can pull from.
      image: patroniImage(spec),
      entrypoint: [...wrap.entrypoint, '/usr/local/bin/patroni'],
      command: ['/etc/patroni/patroni.yml'],
      // Patroni 3.0.2 reads PATRONI_ETCD_USERNAME/_PASSWORD only when another PATRONI_ETCD_* variable is set.
      environment: { ...Object.fromEntries(names.map((s) => [s.name, envVar(s.name)])), [etcdUser.protocol]: 'https' },
      secrets: passwords,
      volumes: [`${m}-data:${PG_IMAGE_DATA(v)}`],
      configs: [config(`${m}_patroni`, `patroni/${m}.yml`, '/etc/patroni/patroni.yml'), ...shared],
      stop_grace_period: '60s',
      networks: swarmNetworksOf(spec, 'db-member'),
      deploy: { replicas: 1, endpoint_mode: DB_ENDPOINT_MODE, placement: { constraints: [`node.labels.patroni == ${m}`] }, restart_policy: { condition: 'any', delay: '5s' } },
    };
    stack.volumes[`${m}-data`] = {};
    stack.labels.push({ label: `patroni=${m}`, what: `runs Patroni member ${m} (its volume lives there)` });
  }
  // The Patroni image has pgBackRest; its configuration and the scripts come from backup/ as configs.
  const backupConfigs = [config('pgbackrest_conf', 'backup/pgbackrest.conf', PGBACKREST_CONFIG), ...BACKUP_SCRIPTS.map((f) => config(`backup_${f.replace(/[^a-z]/g, '_')}`, `backup/${f}`, `/usr/local/bin/${f}`, 0o555))];
  for (const m of members) {
    (stack.services[m] as { volumes: string[] }).volumes.push(...memberArchiveVolumes(spec, m));
    (stack.services[m] as { configs: unknown[] }).configs.push(backupConfigs[0]);
    const svc = memberBackupService(spec, m, `${m}-data`, patroniImage(spec));
    stack.services[backupServiceName(m)] = { ...svc, configs: backupConfigs, networks: swarmNetworksOf(spec, 'backup'), deploy: { replicas: 1, placement: { constraints: [`node.labels.patroni == ${m}`] }, restart_policy: { condition: 'any', delay: '30s' } } };
    stack.volumes[socketVolume(m)] = {};
  }
  stack.volumes[REPO_VOLUME] = {};
  stack.volumes[DUMP_VOLUME] = {};
  for (const v of metricsVolumeNames(spec)) stack.volumes[v] = {};
  // Turns on etcd's users and roles once a majority runs: a job (runs to completion, started again
  // while it fails), idempotent; a changed script runs again at the next deploy.
  stack.services[ETCD_AUTH_SERVICE] = {
    image: patroniImage(spec),
    entrypoint: [...wrap.entrypoint, '/bin/sh', ETCD_AUTH_TARGET],
    secrets: [etcdSecretDefs.root, etcdSecretDefs.password].map((s) => swarmEnvSecret(spec, stack, s)),
    configs: [config('etcd_auth', ETCD_AUTH_FILE, ETCD_AUTH_TARGET, 0o555), wrap.config],
    networks: swarmNetworksOf(spec, 'etcd'),
    deploy: { mode: 'replicated-job', restart_policy: { condition: 'on-failure', delay: '5s' } },
  };
  stack.services['db-endpoint'] = {
    image: HAPROXY_IMAGE,
    entrypoint: [...wrap.entrypoint, 'docker-entrypoint.sh'],
    command: ['haproxy', '-f', '/usr/local/etc/haproxy/haproxy.cfg'],
    configs: [config('db_endpoint', 'db-endpoint/haproxy-db.cfg', '/usr/local/etc/haproxy/haproxy.cfg'), wrap.config],
    secrets: [swarmEnvSecret(spec, stack, SECRETS.haproxyStats)],
    networks: swarmNetworksOf(spec, 'db-endpoint'),
    // Spread over the nodes as a preference, not max_replicas_per_node: 1, which leaves a start-first
    // update no node to start the new task on once every node runs one (the update never begins).
    deploy: { replicas: 2, endpoint_mode: DB_ENDPOINT_MODE, placement: { preferences: [{ spread: 'node.id' }] }, update_config: { parallelism: 1, delay: '5s', order: 'start-first' }, restart_policy: { condition: 'any', delay: '2s' } },
  };
  return { host: 'db-endpoint', port: spec.database.endpointPorts.write, pki };
}
