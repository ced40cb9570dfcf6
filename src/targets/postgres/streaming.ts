/** Files of database.ha streaming shared by every platform: role SQL, monitoring SQL, bootstrap and promote scripts. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import { renderTemplate } from '../../render/templates.js';
import { REPLICATION_USER } from './secrets.js';
import roleSql from '../../../templates/postgres/replication-role.psql.hbs?raw';
import monitorSql from '../../../templates/postgres/monitor-replication.sql.hbs?raw';
import bootstrapSh from '../../../templates/postgres/replica-bootstrap.sh.hbs?raw';
import promoteSh from '../../../templates/postgres/promote.sh.hbs?raw';

/** Replication slot names allow [a-z0-9_] only. */
export const slotName = (standby: string) => standby.replace(/[^a-z0-9_]/g, '_');

export function renderReplicationRoleSql(ctx: RenderContext): string {
  return renderTemplate(roleSql, { header: header(ctx, '--').trimEnd(), replUser: REPLICATION_USER });
}

export function renderMonitorSql(ctx: RenderContext): string {
  return renderTemplate(monitorSql, { header: header(ctx, '--').trimEnd() });
}

export function renderReplicaBootstrap(spec: Spec, ctx: RenderContext, o: { primaryHost: string; slot: string; dataDir: string; binDir: string; startCmd?: string }): string {
  return renderTemplate(bootstrapSh, {
    header: header(ctx).trimEnd(),
    primaryHost: o.primaryHost,
    port: spec.database.port,
    slot: o.slot,
    dataDir: o.dataDir,
    binDir: o.binDir,
    replUser: REPLICATION_USER,
    // database.tls: the clone and the standby's primary_conninfo (pg_basebackup -R keeps -d's options) verify the primary.
    sslConn: spec.database.tls ? `sslmode=verify-full sslrootcert=${spec.database.caFile}` : '',
    startCmd: o.startCmd ?? '',
  });
}

export function renderPromote(spec: Spec, ctx: RenderContext, o: { binDir: string; socketDir: string }): string {
  return renderTemplate(promoteSh, { header: header(ctx).trimEnd(), binDir: o.binDir, socketDir: o.socketDir, port: spec.database.port });
}
