/** PostgreSQL on platform hosts: Debian's server binaries under systemd, configs at Debian's paths. */
import { archiveSettings, stanzaOf } from '../backup/index.js';
import type { Host, Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { renderUnit, envFilePath, sandbox, type Unit } from '../systemd/index.js';
import { SECRETS } from '../secrets.js';
import { addSteps, hostCidr, hostFile, topology, type HostsPlan } from '../hosts/plan.js';
import { bindOf, deploymentOf, logicalPublishing } from '../../model/index.js';
import { ETCD_CLIENT_PORT, LOGICAL_USER, PATRONI_REST_PORT, pgPaths } from '../../model/constants.js';
import { renderPostgresConf } from './index.js';
import { PATRONI_SECRETS, REPLICATION_USER, REWIND_USER } from './secrets.js';
import { renderMonitorSql, renderPromote, renderReplicaBootstrap, renderReplicationRoleSql, slotName } from './streaming.js';
import { DCS_COMMENT, DCS_TIMING_WHY, dcsKind, hbaLines, patroniConfig } from '../patroni/index.js';
import { commentedYaml } from '../../render/yaml.js';
import { etcdAuthScriptName, renderEtcdAuthScript, renderEtcdConfig, type EtcdMember } from '../etcd/index.js';
import { DB_ENDPOINT_CA, ETCD_TLS, PATRONI_TLS, caInstall, hostCert, pkiInstalls } from '../pki.js';
import { etcdUserVars } from '../patroni/index.js';
import { DB_ENDPOINT_CONFIG, DB_ENDPOINT_UNIT, dbEndpointUnit, renderDbEndpoint } from '../db-endpoint/index.js';
import postBootstrapSh from '../../../templates/patroni/post-bootstrap.sh.hbs?raw';
import roleSql from '../../../templates/postgres/app-role.psql.hbs?raw';
import hbaSource from '../../../templates/postgres/pg_hba.conf.hbs?raw';

export { pgPaths };

export const ETCD_PATRONI_USER = 'patroni';
export const ETCD_ROOT_SECRET = { name: 'ETCD_ROOT_PASSWORD', help: 'Password of etcd\'s root user (users and roles; only the etcd-auth step and an operator use it).' };

/** The .env entries of etcd's users (every platform): root's password, and Patroni's user and password. */
export function etcdUserSecrets(spec: Spec): { root: SecretDef; user: SecretDef; password: SecretDef } {
  const v = etcdUserVars(spec);
  return {
    root: ETCD_ROOT_SECRET,
    user: { name: v.user, help: 'etcd user Patroni connects as (its role may touch only this cluster\'s keys).', value: ETCD_PATRONI_USER },
    password: { name: v.password, help: 'Password of that etcd user (read by Patroni and the etcd-auth step).' },
  };
}

/** Where the streaming/Patroni helpers land on each database host. */
export const dbHostFiles = (spec: Spec) => ({
  bootstrap: `/usr/local/sbin/${spec.name}-replica-bootstrap`,
  /** The standby's EnvironmentFile (REPLICATION_PASSWORD), read by its unit and the RUNBOOK's re-clone. */
  replicaEnv: envFilePath(spec.name, 'replica'),
  promote: `/usr/local/sbin/${spec.name}-promote`,
  replicationSql: `/etc/${spec.name}/replication-role.psql`,
  appRoleSql: `/etc/${spec.name}/app-role.psql`,
  monitorSql: `/etc/${spec.name}/monitor-replication.sql`,
  patroniYml: '/etc/patroni/patroni.yml',
  etcdConf: '/etc/etcd/etcd.conf.yml',
  etcdData: `/var/lib/etcd/${spec.name}`,
  /** Patroni's cluster: its own folder, not the `main` cluster Debian's package creates. */
  postBootstrap: '/etc/patroni/post-bootstrap.sh',
  patroniData: `/var/lib/postgresql/${spec.database.version}/${spec.name}`,
  pgpass: `/var/lib/postgresql/.pgpass_${spec.name}`,
});

/** DATABASE_URL as deploy.sh writes it into an app host's EnvironmentFile: where the model says that host's app connects. */
export function appDatabaseUrl(spec: Spec, app: Host): string {
  const d = spec.database;
  const ep = deploymentOf(spec).dbWrite[app.name];
  if (!ep) throw new Error(`internal: the model has no database endpoint for app host ${app.name}`);
  return `postgres://${d.user}:\${${SECRETS.appDb.name}}@${ep.address}:${ep.port}/${d.name}${dbTlsQuery(spec)}`;
}

/**
 * database.tls: clients verify the server (sslmode=verify-full) against database.caFile. verify-full
 * also checks that the certificate names the host the client dialled, so the server certificate's
 * subjectAltName must cover every address clients use (dbTlsNames): the database hosts (replication,
 * Patroni) and each app's endpoint address; through a local HAProxy endpoint (TCP passthrough) the
 * app still sees PostgreSQL's own certificate, so that endpoint's address (the app host's, or
 * 127.0.0.1) must be in it too.
 */
export const dbTlsQuery = (spec: Spec) => (spec.database.tls ? `?sslmode=verify-full&sslrootcert=${spec.database.caFile}` : '');

/** The names a database server certificate must carry (subjectAltName) for verify-full clients. */
export function dbTlsNames(spec: Spec): string[] {
  const dep = deploymentOf(spec);
  const db = dep.hosts.filter((h) => h.roles.includes('db')).map((h) => h.address);
  return [...new Set([...db, ...Object.values(dep.dbWrite).map((e) => e.address)])].sort();
}

/** pg_hba client lines: every host whose flows connect to a database member for writes (the app hosts, or the endpoint hosts). */
function dbClients(spec: Spec): string[] {
  const dep = deploymentOf(spec);
  const members = new Set(dep.members.db);
  const from = dep.links.filter((l) => l.purpose === 'db-write' && l.targets.some((t) => members.has(t.to))).map((l) => l.from);
  return dep.hosts.filter((h) => from.includes(h.name)).map((h) => hostCidr(h.address));
}

export function renderHba(
  spec: Spec,
  ctx: RenderContext,
  o: { clients: string[]; replicationFrom: string[]; superuserFrom?: string[]; rewindFrom?: string[]; samenet?: boolean },
): string {
  return renderTemplate(hbaSource, {
    header: header(ctx).trimEnd(),
    db: spec.database.name,
    user: spec.database.user,
    hostType: spec.database.tls ? 'hostssl' : 'host',
    ssl: spec.database.tls,
    samenet: o.samenet ?? false,
    replUser: REPLICATION_USER,
    rewindUser: REWIND_USER,
    clients: [...new Set([...o.clients, ...spec.database.allowedCidrs])],
    replication: [...new Set(o.replicationFrom)],
    superuser: [...new Set(o.superuserFrom ?? [])],
    rewind: [...new Set(o.rewindFrom ?? [])],
    // Multi-region primary region: the other regions' subscriptions (a database connection, so the
    // line names the app database, not `replication`), before the final reject.
    logicalUser: LOGICAL_USER,
    logical: [...new Set((logicalPublishing(spec)?.subscribers ?? []).map(hostCidr))],
  });
}

function pgUnit(spec: Spec, ctx: RenderContext, o: { pre: string; envFile?: string; startTimeout?: string }): string {
  const v = spec.database.version;
  const p = pgPaths(v);
  const unit: Unit = {
    Unit: [['Description', `PostgreSQL ${v} for ${spec.name} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
    Service: [
      ['Type', 'notify'],
      ['User', 'postgres'],
      ['Group', 'postgres'],
      ...(o.envFile ? ([['EnvironmentFile', o.envFile]] as Array<[string, string]>) : []),
      ['RuntimeDirectory', 'postgresql'],
      ['RuntimeDirectoryPreserve', 'yes'],
      ['ExecStartPre', o.pre],
      ['ExecStart', `${p.bin}/postgres -D ${p.data} -c config_file=${p.conf}/postgresql.conf`],
      ['ExecReload', '/bin/kill -HUP $MAINPID'],
      ['KillMode', 'mixed'],
      ['KillSignal', 'SIGINT'],
      ...(o.startTimeout ? ([['TimeoutStartSec', o.startTimeout]] as Array<[string, string]>) : []),
      ['TimeoutStopSec', 120],
      ['Restart', 'on-failure'],
      ...sandbox({ system: 'full', caps: [], wx: false, why: ['Sandbox: W^X stays off (PostgreSQL\'s JIT compiles queries to machine code); /usr, /etc and /boot are read-only, /var stays writable for the data, WAL archive (pgBackRest) and logs.'] }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  };
  return renderUnit(unit, ctx);
}

// The env file is read as KEY=VALUE data (never sourced: a value is not run as shell code).
const psqlFile = (spec: Spec, file: string, envFile: string, extra = '') =>
  `while IFS== read -r k v; do export "$k=$v"; done < ${envFile}; runuser -u postgres -- psql -X -q -h ${pgPaths(spec.database.version).socket} -p ${spec.database.port} -v ON_ERROR_STOP=1${extra} -f ${file}`;

export function renderDatabaseHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan): void {
  if (spec.database.ha === 'patroni') return renderPatroniHosts(spec, ctx, b, plan);
  const t = topology(spec);
  const v = spec.database.version;
  const p = pgPaths(v);
  const f = dbHostFiles(spec);
  const streaming = spec.database.ha === 'streaming';
  b.secret(SECRETS.appDb);
  if (streaming) b.secret(SECRETS.replication);
  const dbCidrs = t.db.map((h) => hostCidr(h.address));
  const hba = renderHba(spec, ctx, { clients: dbClients(spec), replicationFrom: streaming ? dbCidrs : [] });
  const unitName = `postgresql@${v}-main`;
  const initEnv = envFilePath(spec.name, 'db-init');
  t.db.forEach((db, i) => {
    const primary = i === 0;
    // Replication: listen on the host's address only (local tools use the socket), so that several
    // members can share a machine in tests; a single server also listens on localhost.
    const conf = renderPostgresConf(spec, ctx, {
      role: streaming ? (primary ? 'primary' : 'standby') : 'single',
      listen: streaming ? db.address : `localhost,${db.address}`,
      // deploy.sh installs pgBackRest on every db host (backup target): WAL goes to its repository.
      archive: true,
      archiveCommand: archiveSettings(spec).archive_command,
      paths: { data: p.data, hba: `${p.conf}/pg_hba.conf`, ident: `${p.conf}/pg_ident.conf`, socket: p.socket },
    });
    b.add(hostFile(db, `${p.conf}/postgresql.conf`), conf, { checks: [{ tool: 'pg-conf' }] });
    b.add(hostFile(db, `${p.conf}/pg_hba.conf`), hba, { checks: [{ tool: 'pg-hba', ssl: spec.database.tls }] });
    if (streaming) {
      b.add(hostFile(db, f.promote), renderPromote(spec, ctx, { binDir: p.bin, socketDir: p.socket }), { mode: 0o755, checks: [{ tool: 'shell' }] });
      b.add(hostFile(db, f.monitorSql), renderMonitorSql(ctx), { checks: [{ tool: 'sql' }] });
      b.add(hostFile(db, f.bootstrap), renderReplicaBootstrap(spec, ctx, { primaryHost: t.db[0]!.address, slot: slotName(db.name), dataDir: p.data, binDir: p.bin }), { mode: 0o755, checks: [{ tool: 'shell' }] });
    }
    if (primary) {
      b.add(hostFile(db, f.appRoleSql), renderTemplate(roleSql, { header: header(ctx, '--').trimEnd() }), { checks: [{ tool: 'sql' }] });
      if (streaming) b.add(hostFile(db, f.replicationSql), renderReplicationRoleSql(ctx), { checks: [{ tool: 'sql' }] });
      // An instance file overrides Debian's postgresql@.service template for this cluster only.
      b.add(hostFile(db, `/etc/systemd/system/${unitName}.service`), pgUnit(spec, ctx, { pre: `/bin/sh -c 'test -f ${p.data}/PG_VERSION || ${p.bin}/initdb -D ${p.data} --auth-local=peer --auth-host=scram-sha-256 --data-checksums'` }), { checks: [{ tool: 'systemd' }] });
      const entries = [{ name: SECRETS.appDb.name, value: `$${SECRETS.appDb.name}` }, ...(streaming ? [{ name: SECRETS.replication.name, value: `$${SECRETS.replication.name}` }] : [])];
      addSteps(plan, db, 'db', {
        envFile: { path: initEnv, entries },
        after: [
          psqlFile(spec, f.appRoleSql, initEnv, ` -v app_user=${spec.database.user} -v app_db=${spec.database.name}`),
          ...(streaming ? [psqlFile(spec, f.replicationSql, initEnv)] : []),
        ],
      });
    } else {
      // A standby clones itself before its first start (and never again: the script is idempotent).
      const env = f.replicaEnv;
      b.add(hostFile(db, `/etc/systemd/system/${unitName}.service`), pgUnit(spec, ctx, { pre: f.bootstrap, envFile: env, startTimeout: 'infinity' }), { checks: [{ tool: 'systemd' }] });
      addSteps(plan, db, 'db', { envFile: { path: env, entries: [{ name: SECRETS.replication.name, value: `$${SECRETS.replication.name}` }] } });
    }
  });
}

/** The .env names every Patroni member reads. */
export function patroniSecrets(b: BundleBuilder): void {
  Object.values(PATRONI_SECRETS).forEach((s) => b.secret(s));
}

function renderPatroniHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan): void {
  const t = topology(spec);
  const v = spec.database.version;
  const p = pgPaths(v);
  const f = dbHostFiles(spec);
  b.secret(SECRETS.appDb);
  patroniSecrets(b);
  b.secret(SECRETS.haproxyStats);
  // etcd: TLS with the bundle's CA for members and clients, and users (etcd-auth step below)
  const etcdVars = etcdUserVars(spec);
  for (const s of Object.values(etcdUserSecrets(spec))) b.secret(s);
  const cert = (h: Host) => {
    const c = hostCert(spec.name, plan.certPrefix, h);
    b.cert(c);
    return c.name;
  };
  const authEnv = envFilePath(spec.name, 'etcd-auth');

  // etcd members
  // Where each listens is the model's (its etcd client port's bind), as for every other service.
  const members: EtcdMember[] = t.etcd.map((h) => ({ name: h.name, address: h.address, listen: bindOf(plan.dep, h.name, 'etcd', ETCD_CLIENT_PORT) }));
  for (const [i, h] of t.etcd.entries()) {
    b.add(hostFile(h, f.etcdConf), renderEtcdConfig(spec, ctx, members[i]!, members, f.etcdData, ETCD_TLS), { checks: [{ tool: 'etcd' }, { tool: 'yaml' }] });
    b.add(hostFile(h, etcdAuthScriptName(spec)), renderEtcdAuthScript(spec, ctx, { address: h.address, envFile: authEnv, tls: ETCD_TLS, patroniPasswordVar: etcdVars.password }), { mode: 0o755, checks: [{ tool: 'shell' }] });
    addSteps(plan, h, 'etcd', {
      pki: pkiInstalls(cert(h), ETCD_TLS, 'etcd'),
      envFile: { path: authEnv, entries: [ETCD_ROOT_SECRET.name, etcdVars.password].map((n) => ({ name: n, value: `$${n}` })) },
      // once a majority runs (the second etcd host deployed): idempotent
      after: [etcdAuthScriptName(spec)],
    });
    b.add(
      hostFile(h, '/etc/systemd/system/etcd.service'),
      renderUnit(
        {
          Unit: [['Description', `etcd member ${h.name} for ${spec.name} (ha-gen): Patroni's DCS`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
          Service: [
            // exec, not notify: a first member reports ready only once a majority runs, so deploy.sh,
            // which starts one host at a time, would wait for systemd's start timeout on db1.
            ['Type', 'exec'],
            ['User', 'etcd'],
            ['Group', 'etcd'],
            ['StateDirectory', `etcd/${spec.name}`],
            ['StateDirectoryMode', '0700'],
            ['ExecStart', `/usr/bin/etcd --config-file ${f.etcdConf}`],
            ['Restart', 'on-failure'],
            ['RestartSec', '2s'],
            ['LimitNOFILE', 65536],
            // Writes only its StateDirectory.
            ...sandbox({ system: 'strict', caps: [] }),
          ],
          Install: [['WantedBy', 'multi-user.target']],
        },
        ctx,
      ),
      { checks: [{ tool: 'systemd' }] },
    );
  }

  // Patroni members: pg_hba lets the app reach the database only through the endpoint hosts.
  const dbCidrs = t.db.map((h) => hostCidr(h.address));
  const hba = hbaLines(renderHba(spec, ctx, { clients: dbClients(spec), replicationFrom: dbCidrs, rewindFrom: dbCidrs }));
  const etcdHosts = t.etcd.map((h) => h.address);
  const patroniEnv = envFilePath(spec.name, 'patroni');
  for (const db of t.db) {
    const cfg = patroniConfig(spec, { name: db.name, connect: db.address, listen: bindOf(plan.dep, db.name, 'db', PATRONI_REST_PORT) }, etcdHosts, { postBootstrap: f.postBootstrap, dataDir: f.patroniData, binDir: p.bin, socketDir: p.socket, pgpass: f.pgpass }, hba, PATRONI_TLS);
    b.add(hostFile(db, f.patroniYml), patroniYaml(spec, ctx, cfg), { checks: [{ tool: 'patroni' }, { tool: 'yaml' }] });
    b.add(hostFile(db, f.monitorSql), renderMonitorSql(ctx), { checks: [{ tool: 'sql' }] });
    b.add(hostFile(db, f.appRoleSql), renderTemplate(roleSql, { header: header(ctx, '--').trimEnd() }), { checks: [{ tool: 'sql' }] });
    // Debian's package creates and starts a `main` cluster on the same port: keep it off.
    b.add(hostFile(db, `${p.conf}/start.conf`), `${header(ctx).trimEnd()}\n# Debian's default cluster stays off: Patroni runs this host's PostgreSQL (${f.patroniData}).\ndisabled\n`);
    b.add(hostFile(db, '/etc/systemd/system/patroni.service'), renderUnit(patroniUnit(spec, patroniEnv), ctx), { checks: [{ tool: 'systemd' }] });
    b.add(hostFile(db, f.postBootstrap), renderPostBootstrap(spec, ctx, f.appRoleSql), { mode: 0o755, checks: [{ tool: 'shell' }] });
    addSteps(plan, db, 'db', {
      pki: pkiInstalls(cert(db), PATRONI_TLS, 'postgres'),
      envFile: {
        path: patroniEnv,
        entries: [
          ...[...Object.values(PATRONI_SECRETS), SECRETS.appDb, { name: etcdVars.user }, { name: etcdVars.password }].map((s) => ({ name: s.name, value: `$${s.name}` })),
          // Not secret, but needed here: Patroni 3.0.2 reads PATRONI_ETCD_USERNAME/_PASSWORD only when
          // another PATRONI_ETCD_* variable is set; alone, it would take the password for a bootstrap user "etcd".
          { name: etcdVars.protocol, value: 'https' },
        ],
      },
    });
  }
  // The endpoint: an HAProxy on every host the model places it (every app host by default).
  const endpointEnv = envFilePath(spec.name, DB_ENDPOINT_UNIT);
  for (const lb of t.endpoint) {
    const dep = plan.dep;
    const bind = bindOf(dep, lb.name, 'db-endpoint', spec.database.endpointPorts.write);
    const statsBind = bindOf(dep, lb.name, 'db-endpoint', spec.database.endpointPorts.stats);
    b.add(hostFile(lb, DB_ENDPOINT_CONFIG), renderDbEndpoint(spec, ctx, { bind, statsBind, members: t.db.map((h) => ({ name: h.name, host: h.address })), caFile: DB_ENDPOINT_CA }), { checks: [{ tool: 'haproxy' }] });
    b.add(hostFile(lb, `/etc/systemd/system/${DB_ENDPOINT_UNIT}.service`), renderUnit(dbEndpointUnit(spec), ctx), { checks: [{ tool: 'systemd' }] });
    addSteps(plan, lb, 'db-endpoint', { pki: [caInstall(DB_ENDPOINT_CA)], envFile: { path: endpointEnv, entries: [{ name: SECRETS.haproxyStats.name, value: `$${SECRETS.haproxyStats.name}` }] } });
  }
}

export function patroniUnit(spec: Spec, envFile: string): Unit {
  const v = spec.database.version;
  return {
    Unit: [
      ['Description', `Patroni member for ${spec.name} (ha-gen): runs and fails over PostgreSQL ${v}`],
      ['After', 'network-online.target etcd.service'],
      ['Wants', 'network-online.target'],
    ],
    Service: [
      ['Type', 'simple'],
      ['User', 'postgres'],
      ['Group', 'postgres'],
      ['EnvironmentFile', envFile],
      ['RuntimeDirectory', 'postgresql'],
      ['RuntimeDirectoryPreserve', 'yes'],
      // Debian's own cluster would hold the port: stopped once, and its start.conf says disabled.
      ['ExecStartPre', `-+/bin/systemctl stop postgresql@${v}-main.service`],
      // The watchdog device must be writable by postgres when present (softdog).
      ['ExecStartPre', '-+/bin/sh -c \'test -c /dev/watchdog && chown postgres /dev/watchdog\''],
      ['ExecStart', '/usr/bin/patroni /etc/patroni/patroni.yml'],
      ['ExecReload', '/bin/kill -HUP $MAINPID'],
      // Only Patroni is signalled: it stops PostgreSQL itself (a fast shutdown, not a kill).
      ['KillMode', 'process'],
      ['TimeoutSec', 30],
      ['Restart', 'on-failure'],
      ['RestartSec', '5s'],
      // The "+" ExecStartPre lines above run outside the sandbox (they stop Debian's cluster, hand over /dev/watchdog).
      ...sandbox({ system: 'full', caps: [], wx: false, devices: ['/dev/watchdog'], why: ["Sandbox: /dev is private except /dev/watchdog (Patroni fences PostgreSQL with it); W^X stays off (PostgreSQL's JIT, Python); /var stays writable for the data, WAL archive and logs."] }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  };
}

export function renderPostBootstrap(spec: Spec, ctx: RenderContext, roleSqlPath: string): string {
  return renderTemplate(postBootstrapSh, { header: header(ctx).trimEnd(), appUser: spec.database.user, appDb: spec.database.name, roleSql: roleSqlPath, stanza: stanzaOf(spec) });
}

/** patroni.yml with the reasons for its non-obvious settings. */
export function patroniYaml(spec: Spec, ctx: RenderContext, cfg: Record<string, unknown>): string {
  const kind = dcsKind(spec);
  return commentedYaml(cfg, ctx, `Patroni ${spec.database.patroniVersion} member ${String(cfg.name)} of cluster ${spec.name}. Passwords and user names: PATRONI_* variables (from .env).`, [
    ...(cfg.ctl ? ([
      [['restapi', 'verify_client'], 'HTTPS with this host\'s certificate. Reads (health checks, /metrics) need only the CA; a change (switchover, restart) needs a client certificate of the bundle\'s CA and the PATRONI_RESTAPI_* password.'],
      [['ctl'], 'patronictl (and a member asking another) verifies the server against the CA and shows this host\'s certificate.'],
    ] as Array<[string[], string]>) : []),
    [[kind], DCS_COMMENT[kind]],
    [['bootstrap', 'dcs', 'ttl'], DCS_TIMING_WHY],
    [['bootstrap', 'dcs', 'maximum_lag_on_failover'], 'A standby more than 1 MiB behind is not promoted.'],
    [['bootstrap', 'dcs', 'failsafe_mode'], 'If etcd is down but every member still sees the others, the primary keeps running instead of demoting itself.'],
    [['bootstrap', 'dcs', 'synchronous_mode'], spec.database.synchronous ? 'Commits wait for a synchronous standby, and only it can be promoted: no acknowledged write is lost. Not strict: with no standby left, the primary goes on alone.' : 'Asynchronous: a failover can lose the last writes a standby had not received (at most maximum_lag_on_failover).'],
    [['bootstrap', 'pg_hba'], 'Patroni 3.0.2\'s validator wants it; postgresql.pg_hba below is the one applied.'],
    [['postgresql', 'bin_dir'], 'Debian keeps the server binaries here, not on PATH.'],
    [['watchdog'], `Fences PostgreSQL when Patroni hangs or dies (the node reboots if Patroni stops feeding /dev/watchdog, load softdog). ${spec.database.watchdog === 'required' ? 'required: a member without a watchdog will not lead.' : 'Without a watchdog, apps must reach the database only through the checked endpoint (port ' + String(spec.database.endpointPorts.write) + '): a hung member\'s PostgreSQL stays writable.'}`],
  ]);
}

