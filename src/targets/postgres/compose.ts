/** The database services of platform compose (one Docker host): none, streaming or Patroni. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { composeVar, SECRETS } from '../secrets.js';
import { addAppRoleInit, renderPostgresConf } from './index.js';
import { renderHba } from './hosts.js';
import { renderMonitorSql, renderPromote, renderReplicaBootstrap, renderReplicationRoleSql, slotName } from './streaming.js';
import { addPatroniContainerFiles, CONTAINER_BIN, CONTAINER_SOCKET, ETCD_AUTH_FILE, ETCD_AUTH_SERVICE, ETCD_AUTH_TARGET, ETCD_IMAGE, HAPROXY_IMAGE, PG_IMAGE_DATA, patroniEnvironment, patroniImage, replicaNames, STATS_ENV } from './containers.js';
import type { ContainerPkiUse } from '../pki.js';
import { etcdUserSecrets } from './hosts.js';
import { patroniSecrets } from './hosts.js';
import { archiveSettings, backupImage, BACKUP_SCRIPTS, backupServiceName, DUMP_VOLUME, metricsVolumeNames, memberArchiveVolumes, memberBackupService, PGBACKREST_CONFIG, REPO_VOLUME, socketVolume, stanzaOf } from '../backup/index.js';
import stanzaSh from '../../../templates/postgres/30-pgbackrest-stanza.sh.hbs?raw';
import replRoleSh from '../../../templates/postgres/20-replication-role.sh.hbs?raw';

export interface DatabaseServices {
  services: Record<string, unknown>;
  volumes: string[];
  /** Where the app connects (DATABASE_URL host and port). */
  host: string;
  port: number;
  /** depends_on entries for the app services. */
  appDependsOn: Record<string, { condition: string }>;
  /** Patroni: the pki/ files each service gets, and the image pki-init runs in (compose/index.ts wires them last, when every service exists). */
  pki?: { uses: ContainerPkiUse[]; image: Record<string, unknown> };
}

const pgHealth = { test: ['CMD-SHELL', 'pg_isready -U postgres -d postgres'], interval: '5s', timeout: '3s', retries: 5, start_period: '30s' };
const hardening = { security_opt: ['no-new-privileges:true'] };

/** Streaming files shared by compose and swarm (container paths). */
export function addStreamingContainerFiles(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  const v = spec.database.version;
  b.add('postgres/pg_hba.conf', renderHba(spec, ctx, { clients: ['samenet'], replicationFrom: ['samenet'], samenet: true }), { checks: [{ tool: 'pg-hba', ssl: spec.database.tls }] });
  b.add('postgres/init/replication-role.psql', renderReplicationRoleSql(ctx), { checks: [{ tool: 'sql' }] });
  b.add('postgres/init/20-replication-role.sh', renderTemplate(replRoleSh, { header: header(ctx).trimEnd() }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  b.add('postgres/replica-bootstrap.sh', renderReplicaBootstrap(spec, ctx, { primaryHost: 'db', slot: slotName(replicaNames(spec)[0]!), dataDir: PG_IMAGE_DATA(v), binDir: CONTAINER_BIN(v), startCmd: `postgres ${PG_ARGS.join(' ')}` }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  b.add('postgres/init/30-pgbackrest-stanza.sh', renderTemplate(stanzaSh, { header: header(ctx).trimEnd(), stanza: stanzaOf(spec) }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  b.add('postgres/promote.sh', renderPromote(spec, ctx, { binDir: CONTAINER_BIN(v), socketDir: CONTAINER_SOCKET }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  b.add('postgres/monitor-replication.sql', renderMonitorSql(ctx), { checks: [{ tool: 'sql' }] });
}

export const PG_ARGS = ['-c', 'config_file=/etc/postgresql/postgresql.conf'];
const PG_ARGS_HBA = [...PG_ARGS, '-c', 'hba_file=/etc/postgresql/pg_hba.conf'];

export function renderDatabaseCompose(spec: Spec, ctx: RenderContext, b: BundleBuilder): DatabaseServices {
  const v = spec.database.version;
  const ha = spec.database.ha;
  b.secret(SECRETS.pgSuper).secret(SECRETS.appDb);
  if (ha === 'patroni') return renderPatroniCompose(spec, ctx, b);

  const streaming = ha === 'streaming';
  // Streaming: every member archives (only the primary does while archive_mode is on), into the
  // repository volume of the backup image (backup/Dockerfile). Single: docker-compose.backup.yml adds it.
  const archive = streaming ? archiveSettings(spec).archive_command : undefined;
  b.add('postgres/postgresql.conf', renderPostgresConf(spec, ctx, { role: streaming ? 'primary' : 'single', listen: '*', archive: streaming, ...(archive ? { archiveCommand: archive } : {}) }), { checks: [{ tool: 'pg-conf' }] });
  addAppRoleInit(b, spec, ctx, 'postgres/init');
  const services: Record<string, unknown> = {};
  const volumes = ['pgdata'];
  // Streaming members and their backup services run the backup image (postgres + pgBackRest, built
  // from backup/; each service names the build, so whichever compose starts first builds it).
  const dbImage = streaming ? { image: backupImage(spec), ...(spec.backup.image ? {} : { build: { context: './backup' } }) } : { image: `postgres:${v}` };
  services.db = {
    ...dbImage,
    restart: 'unless-stopped',
    command: ['postgres', ...(streaming ? PG_ARGS_HBA : PG_ARGS)],
    environment: {
      POSTGRES_PASSWORD: composeVar(SECRETS.pgSuper.name),
      APP_DB_PASSWORD: composeVar(SECRETS.appDb.name),
      ...(streaming ? { REPLICATION_PASSWORD: composeVar(SECRETS.replication.name) } : {}),
      POSTGRES_INITDB_ARGS: '--auth-host=scram-sha-256 --data-checksums',
    },
    volumes: [
      `pgdata:${PG_IMAGE_DATA(v)}`,
      './postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro',
      ...(streaming ? ['./postgres/pg_hba.conf:/etc/postgresql/pg_hba.conf:ro', './postgres/monitor-replication.sql:/etc/postgresql/monitor-replication.sql:ro'] : []),
      './postgres/init:/docker-entrypoint-initdb.d:ro',
      ...(streaming ? memberArchiveVolumes(spec, 'db') : []),
    ],
    healthcheck: pgHealth,
    shm_size: '256m',
    stop_grace_period: '60s',
    // Not published on the host: only the app reaches it, over the internal data network.
    networks: ['data'],
    ...hardening,
  };
  if (streaming) {
    b.secret(SECRETS.replication);
    addStreamingContainerFiles(spec, ctx, b);
    for (const r of replicaNames(spec)) {
      volumes.push(`${r}-data`);
      services[r] = {
        ...dbImage,
        restart: 'unless-stopped',
        // Clones itself from db on first start (pg_basebackup), then runs as a hot standby.
        user: 'postgres',
        entrypoint: ['bash', '/etc/postgresql/replica-bootstrap.sh', '--start'],
        environment: { REPLICATION_PASSWORD: composeVar(SECRETS.replication.name), REPLICATION_SLOT: slotName(r), PGDATA: PG_IMAGE_DATA(v) },
        volumes: [
          `${r}-data:${PG_IMAGE_DATA(v)}`,
          './postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro',
          './postgres/pg_hba.conf:/etc/postgresql/pg_hba.conf:ro',
          './postgres/replica-bootstrap.sh:/etc/postgresql/replica-bootstrap.sh:ro',
          './postgres/promote.sh:/etc/postgresql/promote.sh:ro',
          './postgres/monitor-replication.sql:/etc/postgresql/monitor-replication.sql:ro',
          ...memberArchiveVolumes(spec, r),
        ],
        healthcheck: pgHealth,
        shm_size: '256m',
        stop_grace_period: '60s',
        depends_on: { db: { condition: 'service_healthy' } },
        networks: ['data'],
        ...hardening,
      };
    }
  }
  if (streaming) {
    const members = ['db', ...replicaNames(spec)];
    for (const m of members) {
      const svc = memberBackupService(spec, m, m === 'db' ? 'pgdata' : `${m}-data`, backupImage(spec));
      // restore-pitr.sh prints how to start the copy with the members' postgresql.conf (as in docker-compose.backup.yml).
      svc.volumes = [...(svc.volumes as string[]), './postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro'];
      services[backupServiceName(m)] = { ...svc, ...dbImage, restart: 'unless-stopped', depends_on: [m], networks: ['data'], ...hardening };
    }
    volumes.push(REPO_VOLUME, DUMP_VOLUME, ...members.map(socketVolume), ...metricsVolumeNames(spec));
  }
  b.resolveNames('db');
  return { services, volumes, host: 'db', port: spec.database.port, appDependsOn: { db: { condition: 'service_healthy' } } };
}

function renderPatroniCompose(spec: Spec, ctx: RenderContext, b: BundleBuilder): DatabaseServices {
  const v = spec.database.version;
  patroniSecrets(b);
  b.secret(SECRETS.haproxyStats);
  const { members, etcd, pki } = addPatroniContainerFiles(spec, ctx, b);
  addAppRoleInit(b, spec, ctx, 'postgres/init');
  const services: Record<string, unknown> = {};
  const volumes: string[] = [];
  const image = { image: patroniImage(spec), build: { context: './patroni', args: { PG_MAJOR: String(v), PATRONI_VERSION: spec.database.patroniVersion } } };
  for (const e of etcd) {
    volumes.push(`${e}-data`);
    services[e] = {
      image: ETCD_IMAGE,
      restart: 'unless-stopped',
      command: ['etcd', '--config-file', '/etc/etcd/etcd.conf.yml'],
      volumes: [`${e}-data:/etcd-data`, `./etcd/${e}.conf.yml:/etc/etcd/etcd.conf.yml:ro`],
      networks: ['data'],
      ...hardening,
    };
  }
  for (const m of members) {
    volumes.push(`${m}-data`);
    services[m] = {
      ...image,
      restart: 'unless-stopped',
      environment: { ...patroniEnvironment(spec), APP_DB_PASSWORD: composeVar(SECRETS.appDb.name) },
      volumes: [`${m}-data:${PG_IMAGE_DATA(v)}`, `./patroni/${m}.yml:/etc/patroni/patroni.yml:ro`, './patroni/post-bootstrap.sh:/etc/patroni/post-bootstrap.sh:ro', './postgres/init:/etc/postgresql/init:ro', ...memberArchiveVolumes(spec, m), `./backup/pgbackrest.conf:${PGBACKREST_CONFIG}:ro`],
      shm_size: '256m',
      stop_grace_period: '60s',
      depends_on: etcd,
      networks: ['data'],
      ...hardening,
    };
  }
  // The Patroni image has pgBackRest; the scripts and configuration come from backup/.
  for (const m of members) {
    const svc = memberBackupService(spec, m, `${m}-data`, patroniImage(spec));
    svc.volumes = [...(svc.volumes as string[]), `./backup/pgbackrest.conf:${PGBACKREST_CONFIG}:ro`, ...BACKUP_SCRIPTS.map((f) => `./backup/${f}:/usr/local/bin/${f}:ro`)];
    services[backupServiceName(m)] = { ...svc, restart: 'unless-stopped', depends_on: [m], networks: ['data'], ...hardening };
    volumes.push(socketVolume(m));
  }
  volumes.push(REPO_VOLUME, DUMP_VOLUME, ...metricsVolumeNames(spec));
  // Turns on etcd's users and roles once a majority runs (idempotent; started again until it has).
  // Patroni does not wait for it: etcd already takes only clients with a certificate of the CA.
  services[ETCD_AUTH_SERVICE] = {
    ...image,
    entrypoint: ['/bin/sh', ETCD_AUTH_TARGET],
    environment: Object.fromEntries([etcdUserSecrets(spec).root, etcdUserSecrets(spec).password].map((s) => [s.name, composeVar(s.name)])),
    volumes: [`./${ETCD_AUTH_FILE}:${ETCD_AUTH_TARGET}:ro`],
    restart: 'on-failure',
    depends_on: etcd,
    networks: ['data'],
    ...hardening,
  };
  services['db-endpoint'] = {
    image: HAPROXY_IMAGE,
    restart: 'unless-stopped',
    volumes: ['./db-endpoint/haproxy-db.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro'],
    environment: STATS_ENV,
    // On the internal data network only (no published ports): the app, not the host, connects here.
    depends_on: members,
    networks: ['data'],
    ...hardening,
  };
  return { services, volumes, host: 'db-endpoint', port: spec.database.endpointPorts.write, appDependsOn: { 'db-endpoint': { condition: 'service_started' } }, pki: { uses: pki, image } };
}
