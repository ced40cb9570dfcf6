/**
 * Backups: pgBackRest base backups + WAL archiving (point-in-time recovery) and daily pg_dump.
 * hosts: config, scripts and systemd timers on every database server (the scripts act on the
 * primary only, so they follow a failover). compose/swarm: an image with pgBackRest for the
 * database and a scheduled `backup` service, added through an override file.
 */
import type { Spec } from '../../spec/schema.js';
import { SWARM_NETWORKS, swarmNetworksOf, type SwarmNetwork } from '../swarm/stack.js';
import { hostsWith } from '../../spec/resolve.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { toYaml } from '../../render/yaml.js';
import { renderUnit, sandbox, envFilePath } from '../systemd/index.js';
import { hostFile } from '../hosts/plan.js';
import { pgImage, pgImageData as pgDataPath } from '../../model/constants.js';
import { dumpTime } from '../../plan/schedule.js';
import { MINIO_PORT } from '../../model/constants.js';

/** The node exporter's textfile collector folder (monitoring): the backup leaves its timestamps there. */
export const textfileDir = (spec: Pick<Spec, 'name'>) => `/var/lib/${spec.name}-textfile`;
/**
 * compose/swarm: the volume that is that folder in the backup services and the node exporter (on
 * swarm a local volume per node: the node exporter of a member's node reads what its backup wrote).
 */
export const METRICS_VOLUME = 'backup-metrics';
/** Where the backup leaves its metrics (monitoring on), else undefined. */
export const backupMetricsDir = (spec: Pick<Spec, 'name' | 'monitoring'>) => (spec.monitoring.enabled ? textfileDir(spec) : undefined);
/** The metrics volume to declare beside the backup services (monitoring on), else none. */
export const metricsVolumeNames = (spec: Pick<Spec, 'name' | 'monitoring'>): string[] => (backupMetricsDir(spec) ? [METRICS_VOLUME] : []);
/**
 * The backup images create the folder owned by postgres: Docker copies an image folder's owner into
 * the new, empty volume mounted over it, so the backup (user postgres) can write there.
 */
export const metricsDirInstall = (spec: Pick<Spec, 'name' | 'monitoring'>) => (spec.monitoring.enabled ? ` && install -d -o postgres -g postgres -m 0755 ${textfileDir(spec)}` : '');
import backupSh from '../../../templates/backup/backup.sh.hbs?raw';
import dumpSh from '../../../templates/backup/dump.sh.hbs?raw';
import restoreSh from '../../../templates/backup/restore-pitr.sh.hbs?raw';
import scheduleSh from '../../../templates/backup/schedule.sh.hbs?raw';

export const PGBACKREST_CONFIG = '/etc/pgbackrest/pgbackrest.conf';
const SOCKET_DIR = '/var/run/postgresql';
const DUMP_DIR = '/var/backups/postgresql';

/** pgBackRest reads its S3 keys from these variables (so .env can feed them unchanged). */
export const BACKUP_SECRETS = {
  s3Key: { name: 'PGBACKREST_REPO1_S3_KEY', help: 'Access key of the MinIO user that owns the pgBackRest bucket (read by pgBackRest).' },
  s3Secret: { name: 'PGBACKREST_REPO1_S3_KEY_SECRET', help: 'Secret key of that MinIO user (read by pgBackRest).' },
} satisfies Record<string, SecretDef>;

export const stanzaOf = (spec: Spec) => spec.name;

/**
 * WAL archiving for the server that archives (PostgreSQL settings). Plain PostgreSQL: in
 * postgresql.conf. Patroni: in postgresql.parameters of every member; only the leader archives
 * (archive_mode on, not always), so archiving follows the leader after a failover.
 */
export function archiveSettings(spec: Spec): { archive_mode: string; archive_command: string; archive_timeout: string } {
  return {
    archive_mode: 'on',
    archive_command: `pgbackrest --stanza=${stanzaOf(spec)} archive-push %p`,
    archive_timeout: `${spec.backup.archiveTimeout}s`,
  };
}

/** Where the database's files live for pgBackRest on each platform. */
export function backupPaths(spec: Spec): { data: string; socket: string; bin: string; conf: string } {
  const v = spec.database.version;
  // Patroni's data directory on hosts is named after the cluster (postgres target: dbHostFiles).
  if (spec.platform === 'hosts') return { data: spec.database.ha === 'patroni' ? `/var/lib/postgresql/${v}/${spec.name}` : `/var/lib/postgresql/${v}/main`, socket: SOCKET_DIR, bin: `/usr/lib/postgresql/${v}/bin`, conf: `/etc/postgresql/${v}/main/postgresql.conf` };
  // Patroni in a container keeps its data directory one level below the volume (postgres target: containers.ts).
  return { data: spec.database.ha === 'patroni' ? `${pgDataPath(v)}/pgdata` : pgDataPath(v), socket: SOCKET_DIR, bin: `/usr/lib/postgresql/${v}/bin`, conf: '/etc/postgresql/postgresql.conf' };
}

/** The S3 endpoint of the bundle's MinIO as the database reaches it. */
function s3Endpoint(spec: Spec): string {
  if (spec.platform !== 'hosts') return 'minio';
  const storage = hostsWith(spec, 'storage')[0];
  return storage ? storage.address : 'minio';
}

export function renderPgbackrestConf(spec: Spec, ctx: RenderContext): string {
  const b = spec.backup;
  const p = backupPaths(spec);
  const lines = [header(ctx).trimEnd(), '# pgBackRest: base backups and the WAL archive of this cluster (stanza = deployment name).', '', '[global]'];
  if (b.repository === 's3') {
    lines.push(
      '# The bundle\'s MinIO. pgBackRest speaks only HTTPS to S3: MinIO must serve TLS with a certificate',
      '# this host trusts. Keys come from PGBACKREST_REPO1_S3_KEY / _KEY_SECRET (.env), never this file.',
      'repo1-type=s3',
      `repo1-path=${b.path}`,
      `repo1-s3-bucket=${b.bucket}`,
      `repo1-s3-endpoint=${s3Endpoint(spec)}`,
      `repo1-storage-port=${MINIO_PORT}`,
      'repo1-s3-region=us-east-1',
      'repo1-s3-uri-style=path',
    );
  } else {
    lines.push('repo1-type=posix', `repo1-path=${b.path}`);
  }
  lines.push(
    '# Retention: WAL older than the oldest kept full backup is expired with it.',
    `repo1-retention-full=${b.retentionFull}`,
    `repo1-retention-diff=${b.retentionDiff}`,
    '# An immediate checkpoint: the backup starts now instead of at the next scheduled checkpoint.',
    'start-fast=y',
    'compress-type=zst',
    'process-max=2',
    'log-level-console=info',
    spec.platform === 'hosts' ? 'log-level-file=info' : 'log-level-file=off',
    '',
    `[${stanzaOf(spec)}]`,
    `pg1-path=${p.data}`,
    `pg1-port=${spec.database.port}`,
    `pg1-socket-path=${p.socket}`,
  );
  return `${lines.join('\n')}\n`;
}

function scripts(spec: Spec, ctx: RenderContext) {
  const b = spec.backup;
  const p = backupPaths(spec);
  const h = header(ctx).trimEnd();
  const common = { header: h, stanza: stanzaOf(spec), configPath: PGBACKREST_CONFIG, socketDir: p.socket, port: String(spec.database.port) };
  return {
    backup: renderTemplate(backupSh, { ...common, metricsDir: backupMetricsDir(spec) ?? '', daily: b.full === 'daily', weekday: b.weekday, fullWhen: b.full === 'daily' ? 'every run' : `${b.weekday}days`, retentionFull: b.retentionFull, retentionDiff: b.retentionDiff }),
    dump: renderTemplate(dumpSh, { ...common, db: spec.database.name, dumpDir: `${DUMP_DIR}/${spec.name}`, dumpDays: b.dumpDays, dumpDaysMinus1: b.dumpDays - 1 }),
    // Patroni keeps postgresql.conf in the data directory (hosts and containers): the restored copy
    // brings its own. Otherwise the server's config file, which names the live data directory.
    // --adopt moves the data directory aside: on hosts a folder; in a container a volume's root, which
    // cannot move, so the container copies do not offer it (their RUNBOOK swaps the volume instead).
    restore: renderTemplate(restoreSh, { ...common, binDir: p.bin, confFile: spec.database.ha === 'patroni' ? '$target_dir/postgresql.conf' : p.conf, adopt: spec.platform === 'hosts' }),
    schedule: renderTemplate(scheduleSh, { header: h, time: b.time }),
  };
}

const shell = { mode: 0o755, checks: [{ tool: 'shell' as const }] };

/** Script paths on a database host (hosts platform). */
export const hostScripts = (spec: Spec) => ({
  backup: `/usr/local/sbin/${spec.name}-backup`,
  dump: `/usr/local/sbin/${spec.name}-dump`,
  restore: `/usr/local/sbin/${spec.name}-restore-pitr`,
});

/** The EnvironmentFile of the backup units on each database host (repository s3: the keys), for deploy.sh. */
export function backupHostEnv(spec: Spec): { path: string; entries: Array<{ name: string; value: string }> } | undefined {
  if (spec.backup.repository !== 's3') return undefined;
  return { path: envFilePath(spec.name, 'pgbackrest'), entries: [BACKUP_SECRETS.s3Key, BACKUP_SECRETS.s3Secret].map((s) => ({ name: s.name, value: `$${s.name}` })) };
}

function onCalendar(time: string): string {
  return `*-*-* ${time}:00 UTC`;
}

function renderHostsBackup(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  const s = scripts(spec, ctx);
  const paths = hostScripts(spec);
  const envFile = spec.backup.repository === 's3' ? [['EnvironmentFile', envFilePath(spec.name, 'pgbackrest')] as [string, string]] : [];
  for (const db of hostsWith(spec, 'db')) {
    b.add(hostFile(db, PGBACKREST_CONFIG), renderPgbackrestConf(spec, ctx), { checks: [{ tool: 'pgbackrest', stanza: stanzaOf(spec) }] });
    b.add(hostFile(db, paths.backup), s.backup, shell);
    b.add(hostFile(db, paths.dump), s.dump, shell);
    b.add(hostFile(db, paths.restore), s.restore, shell);
    const job = (what: 'backup' | 'dump', desc: string, at: string, extra: Array<[string, string]>) => {
      b.add(
        hostFile(db, `/etc/systemd/system/${spec.name}-${what}.service`),
        renderUnit(
          {
            Unit: [['Description', `${desc} for ${spec.name} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
            Service: [['Type', 'oneshot'], ['User', 'postgres'], ['Group', 'postgres'], ...envFile, ...extra, ['ExecStart', paths[what]], ['Nice', 10], ['IOSchedulingClass', 'idle'], ...sandbox({ system: 'full', caps: [], wx: false })],
          },
          ctx,
        ),
        { checks: [{ tool: 'systemd' }] },
      );
      b.add(
        hostFile(db, `/etc/systemd/system/${spec.name}-${what}.timer`),
        renderUnit(
          {
            Unit: [['Description', `${desc} schedule for ${spec.name} (ha-gen)`]],
            // Persistent: a run missed while the server was down happens at the next boot.
            Timer: [['OnCalendar', onCalendar(at)], ['Persistent', 'true'], ['Unit', `${spec.name}-${what}.service`]],
            Install: [['WantedBy', 'timers.target']],
          },
          ctx,
        ),
        { checks: [{ tool: 'systemd' }] },
      );
    };
    // The textfile folder the script leaves its timestamps in (the node exporter reads it).
    job('backup', 'pgBackRest base backup', spec.backup.time, spec.monitoring.enabled ? [['ExecStartPre', `+/usr/bin/install -d -o postgres -g postgres -m 0755 ${textfileDir(spec)}`]] : []);
    job('dump', 'Daily logical dump', dumpTime(spec), [['ExecStartPre', `+/usr/bin/install -d -o postgres -g postgres -m 0700 ${DUMP_DIR}/${spec.name}`]]);
  }
}

/**
 * compose/swarm with a replicated database (streaming or Patroni). Every member archives WAL into the
 * one repository volume (archive_mode on: only the primary archives, so archiving follows a failover),
 * and a backup service runs beside each member with that member's data and socket volumes: its
 * backup.sh acts only while its member is the primary, as the timers on every database host do.
 */
export const REPO_VOLUME = 'pgbackrest-repo';
export const DUMP_VOLUME = 'pg-dumps';
export const socketVolume = (member: string) => `${member}-socket`;
export const backupServiceName = (member: string) => `backup-${member}`;
export const BACKUP_SCRIPTS = ['backup.sh', 'dump.sh', 'restore-pitr.sh', 'schedule.sh'] as const;
export { DUMP_DIR };

/** The volumes a replicated member mounts besides its data: the repository (archive-push) and its socket (for its backup service). */
export function memberArchiveVolumes(spec: Spec, member: string): string[] {
  return [`${REPO_VOLUME}:${spec.backup.path}`, `${socketVolume(member)}:${SOCKET_DIR}`];
}

/** The metrics folder's volume in a backup service (monitoring on). */
export const metricsVolumes = (spec: Spec): string[] => (backupMetricsDir(spec) ? [`${METRICS_VOLUME}:${backupMetricsDir(spec)}`] : []);

/** The backup service of one member, without what differs per platform (files, placement, restart). */
export function memberBackupService(spec: Spec, member: string, dataVolume: string, image: string): Record<string, unknown> {
  return {
    image,
    user: 'postgres',
    entrypoint: ['bash', '/usr/local/bin/schedule.sh'],
    // Same data path as its member: pgBackRest checks pg1-path against the server's data_directory.
    volumes: [`${dataVolume}:${pgDataPath(spec.database.version)}`, ...memberArchiveVolumes(spec, member), `${DUMP_VOLUME}:${DUMP_DIR}`, ...metricsVolumes(spec)],
    environment: { HA_GEN_BACKUP_TIME: spec.backup.time },
    // The database images' health checks are about the server (pg_isready, Patroni's REST API): not this.
    healthcheck: { disable: true },
    stop_grace_period: '30s',
  };
}

export const backupImage = (spec: Spec) => spec.backup.image ?? `${spec.name}-postgres-pgbackrest:${spec.database.version}`;

/** backup/'s configuration and scripts (compose/swarm), by bundle path: the swarm stack names them as configs before they are added. */
export function containerBackupFiles(spec: Spec, ctx: RenderContext): Record<string, string> {
  const s = scripts(spec, ctx);
  return { 'backup/pgbackrest.conf': renderPgbackrestConf(spec, ctx), 'backup/backup.sh': s.backup, 'backup/dump.sh': s.dump, 'backup/restore-pitr.sh': s.restore, 'backup/schedule.sh': s.schedule };
}

function renderContainerBackup(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  const p = backupPaths(spec);
  const v = spec.database.version;
  for (const [path, contents] of Object.entries(containerBackupFiles(spec, ctx))) {
    b.add(path, contents, path.endsWith('.conf') ? { checks: [{ tool: 'pgbackrest', stanza: stanzaOf(spec) }] } : shell);
  }
  b.add(
    'backup/Dockerfile',
    [
      header(ctx).trimEnd(),
      '# The official PostgreSQL image plus pgBackRest (from the image\'s own PGDG apt source): the database',
      '# archives WAL with it and the backup service runs the schedule. Rebuild after changing pgbackrest.conf.',
      ...(backupMetricsDir(spec) ? [`# ${backupMetricsDir(spec)}: the backup's metrics (monitoring); a new volume mounted over it takes its owner, postgres.`] : []),
      `FROM ${pgImage(v)}`,
      'RUN apt-get update \\',
      ' && apt-get install -y --no-install-recommends pgbackrest \\',
      ' && rm -rf /var/lib/apt/lists/* \\',
      ' && install -d -o postgres -g postgres -m 0750 /var/lib/pgbackrest /var/log/pgbackrest /var/spool/pgbackrest ' + DUMP_DIR + metricsDirInstall(spec),
      `COPY pgbackrest.conf ${PGBACKREST_CONFIG}`,
      'COPY backup.sh dump.sh restore-pitr.sh schedule.sh /usr/local/bin/',
      '',
    ].join('\n'),
  );
  const override = backupOverride(spec);
  if (!override) return; // the replicated services' backups belong with their own files (see RUNBOOK.md)
  const a = archiveSettings(spec);
  const image = backupImage(spec);
  const swarm = spec.platform === 'swarm';
  // swarm: the backup service reaches only the database tier (the db network of stack.yml).
  const dbNets = swarm ? swarmNetworksOf(spec, 'db-member') : ['data'];
  const dbCommand = ['postgres', '-c', 'config_file=/etc/postgresql/postgresql.conf', '-c', `archive_mode=${a.archive_mode}`, '-c', `archive_command=${a.archive_command}`, '-c', `archive_timeout=${a.archive_timeout}`];
  // The socket volume the monitoring's postgres exporter mounts too (db-socket): the override's mount
  // replaces the main file's at the same path, and another volume there would cut the exporter off.
  const shared = ['pgbackrest-repo:/var/lib/pgbackrest', `${socketVolume('db')}:${p.socket}`];
  const db: Record<string, unknown> = { image, command: dbCommand, volumes: [...shared], networks: dbNets };
  if (!swarm) db.build = { context: './backup' };
  const backup: Record<string, unknown> = {
    image,
    user: 'postgres',
    entrypoint: ['/usr/local/bin/schedule.sh'],
    // The base backup reads the data directory: it shares the database's volumes (same node on swarm).
    volumes: [`pgdata:${p.data}`, ...shared, `pg-dumps:${DUMP_DIR}`, ...metricsVolumes(spec)],
    environment: { HA_GEN_BACKUP_TIME: spec.backup.time },
    networks: swarm ? swarmNetworksOf(spec, 'backup') : ['data'],
    stop_grace_period: '30s',
  };
  // restore-pitr.sh runs here and prints how to start the restored copy with the database's own
  // postgresql.conf: without it the copy starts with PostgreSQL's defaults and stops at once
  // (max_connections lower than on the primary aborts recovery).
  if (!swarm) (backup.volumes as string[]).push('./postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro');
  if (swarm) {
    const place = { placement: { constraints: ['node.labels.database == primary'] } };
    db.deploy = place;
    backup.deploy = { replicas: 1, ...place, restart_policy: { condition: 'any', delay: '30s' } };
  } else {
    backup.depends_on = ['db'];
    backup.restart = 'unless-stopped';
  }
  const doc = {
    version: '3.8',
    services: { db, [override.service]: backup },
    networks: swarm ? Object.fromEntries(dbNets.map((n) => [n, SWARM_NETWORKS[n as SwarmNetwork]])) : { data: { internal: true } },
    volumes: { pgdata: {}, 'pgbackrest-repo': {}, [socketVolume('db')]: {}, 'pg-dumps': {}, ...Object.fromEntries(metricsVolumeNames(spec).map((v) => [v, {}])) },
  };
  const how = swarm
    ? `Backups: docker build -t ${image} backup/ && docker push ${image}, then\n  ./deploy.sh up --backups (deploys this file with stack.yml; a later ./deploy.sh up keeps it)`
    : 'Backups: docker compose -f docker-compose.yml -f docker-compose.backup.yml up -d --build';
  b.add(override.file, toYaml(doc, ctx, how), { checks: [{ tool: swarm ? 'stack' : 'compose' }, { tool: 'yaml' }] });
}

/**
 * compose/swarm with a single database: backups are an override file of their own (the database with
 * pgBackRest, and the backup service), deployed on top of the main file; undefined elsewhere.
 */
export function backupOverride(spec: Spec): { file: string; service: string } | undefined {
  if (spec.platform === 'hosts' || spec.database.ha !== 'none') return undefined;
  return { file: spec.platform === 'swarm' ? 'stack.backup.yml' : 'docker-compose.backup.yml', service: 'backup' };
}

export function renderBackup(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  if (spec.backup.repository === 's3') b.secret(BACKUP_SECRETS.s3Key).secret(BACKUP_SECRETS.s3Secret);
  if (spec.platform === 'hosts') renderHostsBackup(spec, ctx, b);
  else renderContainerBackup(spec, ctx, b);
}
