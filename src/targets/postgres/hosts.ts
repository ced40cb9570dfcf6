/** PostgreSQL on platform hosts: Debian's server binaries under systemd, configs at Debian's paths. */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { renderUnit, envFilePath } from '../systemd/index.js';
import { SECRETS } from '../secrets.js';
import { addService, hostCidr, hostFile, topology, type HostsPlan } from '../hosts/plan.js';
import { renderPostgresConf } from './index.js';
import roleSql from '../../../templates/postgres/app-role.psql.hbs?raw';
import hbaSource from '../../../templates/postgres/pg_hba.conf.hbs?raw';

export const pgPaths = (v: number) => ({
  bin: `/usr/lib/postgresql/${v}/bin`,
  data: `/var/lib/postgresql/${v}/main`,
  conf: `/etc/postgresql/${v}/main`,
  socket: '/var/run/postgresql',
});

/** DATABASE_URL as deploy.sh writes it into the app's EnvironmentFile (the password from .env). */
export function appDatabaseUrl(spec: Spec): string {
  const t = topology(spec);
  const d = spec.database;
  const primary = t.db[0]!;
  return `postgres://${d.user}:\${${SECRETS.appDb.name}}@${primary.address}:${d.port}/${d.name}`;
}

export function renderHba(spec: Spec, ctx: RenderContext, o: { clients: string[]; replicationFrom: string[]; superuserFrom?: string[] }): string {
  return renderTemplate(hbaSource, {
    header: header(ctx).trimEnd(),
    db: spec.database.name,
    user: spec.database.user,
    clients: [...new Set([...o.clients, ...spec.database.allowedCidrs])],
    replication: [...new Set(o.replicationFrom)],
    superuser: [...new Set(o.superuserFrom ?? [])],
  });
}

export function renderDatabaseHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan): void {
  if (spec.database.ha !== 'none') throw new Error(`internal: database.ha ${spec.database.ha} on hosts has no renderer yet`);
  const t = topology(spec);
  const db = t.db[0]!;
  const v = spec.database.version;
  const p = pgPaths(v);
  b.secret(SECRETS.appDb);
  const conf = renderPostgresConf(spec, ctx, { role: 'single', listen: `localhost,${db.address}`, archive: false }).replace(
    /^(# Complete postgresql.conf.*)$/m,
    `$1\ndata_directory = '${p.data}'\nhba_file = '${p.conf}/pg_hba.conf'\nident_file = '${p.conf}/pg_ident.conf'\nunix_socket_directories = '${p.socket}'`,
  );
  b.add(hostFile(db, `${p.conf}/postgresql.conf`), conf, { checks: [{ tool: 'pg-conf' }] });
  b.add(hostFile(db, `${p.conf}/pg_hba.conf`), renderHba(spec, ctx, { clients: t.app.map((a) => hostCidr(a.address)), replicationFrom: [] }), { checks: [{ tool: 'pg-hba' }] });
  b.add(hostFile(db, `/etc/${spec.name}/app-role.psql`), renderTemplate(roleSql, { header: header(ctx, '--').trimEnd() }), { checks: [{ tool: 'sql' }] });
  // An instance file overrides Debian's postgresql@.service template for this cluster only.
  const unitName = `postgresql@${v}-main`;
  b.add(
    hostFile(db, `/etc/systemd/system/${unitName}.service`),
    renderUnit(
      {
        Unit: [['Description', `PostgreSQL ${v} for ${spec.name} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
        Service: [
          ['Type', 'notify'],
          ['User', 'postgres'],
          ['Group', 'postgres'],
          ['RuntimeDirectory', 'postgresql'],
          ['RuntimeDirectoryPreserve', 'yes'],
          ['ExecStartPre', `/bin/sh -c 'test -f ${p.data}/PG_VERSION || ${p.bin}/initdb -D ${p.data} --auth-local=peer --auth-host=scram-sha-256 --data-checksums'`],
          ['ExecStart', `${p.bin}/postgres -D ${p.data} -c config_file=${p.conf}/postgresql.conf`],
          ['ExecReload', '/bin/kill -HUP $MAINPID'],
          ['KillMode', 'mixed'],
          ['KillSignal', 'SIGINT'],
          ['TimeoutStopSec', 120],
          ['Restart', 'on-failure'],
        ],
        Install: [['WantedBy', 'multi-user.target']],
      },
      ctx,
    ),
    { checks: [{ tool: 'systemd' }] },
  );
  addService(plan, db, {
    unit: unitName,
    order: 30,
    packages: [`postgresql-${v}`],
    envFile: { path: envFilePath(spec.name, 'db-init'), entries: [{ name: SECRETS.appDb.name, value: `$${SECRETS.appDb.name}` }] },
    after: [
      `set -a; . ${envFilePath(spec.name, 'db-init')}; set +a; runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -v app_user=${spec.database.user} -v app_db=${spec.database.name} -f /etc/${spec.name}/app-role.psql`,
    ],
  });
}
