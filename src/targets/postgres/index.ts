import { archiveSettings } from '../backup/index.js';
import { logicalPublishing } from '../../model/index.js';
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import confSource from '../../../templates/postgres/postgresql.conf.hbs?raw';
import roleSql from '../../../templates/postgres/app-role.psql.hbs?raw';
import roleSh from '../../../templates/postgres/10-app-role.sh.hbs?raw';

export interface PgConfOptions {
  role: 'single' | 'primary' | 'standby';
  /** Where the server listens: '*' in containers, the host address plus localhost on hosts. */
  listen: string;
  archive: boolean;
  /** archive_command for the backup setup (used when archive is true). */
  archiveCommand?: string;
  /** Debian layout on hosts: data directory, hba/ident files and socket directory named in the file. */
  paths?: { data: string; hba: string; ident: string; socket: string };
}

/** WAL senders and slots: every standby twice (a re-clone while the old slot lingers) plus spares for backups. */
export const maxSenders = (spec: Spec) => Math.max(10, spec.database.replicas * 2 + 4, logicalPublishing(spec)?.slots ?? 0);

/** logical in a multi-region deployment's primary region (it publishes to the others), else replica. */
export const walLevel = (spec: Spec) => (logicalPublishing(spec) ? 'logical' : 'replica');

export function renderPostgresConf(spec: Spec, ctx: RenderContext, o: PgConfOptions): string {
  return renderTemplate(confSource, {
    header: header(ctx).trimEnd(),
    listen: o.listen,
    port: spec.database.port,
    replication: spec.database.ha !== 'none',
    standby: o.role === 'standby',
    maxSenders: maxSenders(spec),
    walLevel: walLevel(spec),
    synchronous: spec.database.synchronous && spec.database.ha === 'streaming',
    archive: o.archive,
    archiveCommand: o.archive ? o.archiveCommand ?? '' : '',
    archiveTimeout: `${spec.backup.archiveTimeout}s`,
    paths: o.paths ?? false,
    ssl: spec.database.tls ? { cert: spec.database.certFile, key: spec.database.keyFile } : false,
  });
}

/**
 * The server settings Patroni passes to PostgreSQL (postgresql.parameters): the same choices as
 * postgresql.conf.hbs, minus what Patroni manages itself (listen_addresses, port, hba, recovery).
 */
export function patroniPgParameters(spec: Spec, socketDir: string): Record<string, string | number> {
  const n = maxSenders(spec);
  return {
    password_encryption: 'scram-sha-256',
    max_connections: 200,
    shared_buffers: '256MB',
    effective_cache_size: '768MB',
    maintenance_work_mem: '64MB',
    wal_level: walLevel(spec),
    wal_log_hints: 'on',
    max_wal_size: '1GB',
    max_wal_senders: n,
    max_replication_slots: n,
    wal_keep_size: '512MB',
    max_slot_wal_keep_size: '8GB',
    hot_standby: 'on',
    hot_standby_feedback: 'on',
    // pgBackRest is beside every member (hosts: the package; containers: the Patroni image) and only
    // the leader archives (archive_mode on, not always), so archiving follows it.
    ...archiveSettings(spec),
    unix_socket_directories: socketDir,
    ...(spec.database.tls ? { ssl: 'on', ssl_cert_file: spec.database.certFile, ssl_key_file: spec.database.keyFile, ssl_min_protocol_version: 'TLSv1.2' } : {}),
    log_line_prefix: '%m [%p] %q%u@%d ',
    log_connections: 'on',
    log_disconnections: 'on',
    log_lock_waits: 'on',
    log_min_duration_statement: '1s',
  };
}

/** Role and database for the app, created once by the official image's init hook. */
export function addAppRoleInit(b: BundleBuilder, spec: Spec, ctx: RenderContext, dir: string): void {
  const vars = { app_user: spec.database.user, app_db: spec.database.name };
  b.add(`${dir}/app-role.psql`, renderTemplate(roleSql, { header: header(ctx, '--').trimEnd() }), {
    checks: [{ tool: 'sql' }],
  });
  b.add(`${dir}/10-app-role.sh`, renderTemplate(roleSh, { header: header(ctx).trimEnd(), ...vars }), {
    mode: 0o755,
    checks: [{ tool: 'shell' }],
  });
}
