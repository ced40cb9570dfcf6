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
}

export function renderPostgresConf(spec: Spec, ctx: RenderContext, o: PgConfOptions): string {
  return renderTemplate(confSource, {
    header: header(ctx).trimEnd(),
    listen: o.listen,
    port: spec.database.port,
    replication: spec.database.ha !== 'none',
    standby: o.role === 'standby',
    maxSenders: Math.max(10, spec.database.replicas * 2 + 4),
    synchronous: spec.database.synchronous && spec.database.ha === 'streaming',
    archive: o.archive,
  });
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
