/**
 * Monitoring on platform hosts: Prometheus and Alertmanager (two each on the HA tiers, on the hosts
 * the model chose), the exporters on the hosts they watch, the alert rules with their promtool
 * tests, and the systemd units (sandboxed, replacing Debian's packaged ones). Everything scraped
 * comes from the model's monitoring jobs, the same list the firewall's `metrics` flows come from.
 */
import type { Host, Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder, SecretDef } from '../../render/bundle.js';
import { toYaml } from '../../render/yaml.js';
import { renderUnit, sandbox, type Unit } from '../systemd/index.js';
import { addSteps, hostFile, type HostsPlan } from '../hosts/plan.js';
import { deploymentOf, type Deployment } from '../../model/index.js';
import {
  ALERTMANAGER_CLUSTER_PORT, ALERTMANAGER_PORT, BLACKBOX_PORT, LB_METRICS_PORT, MONITORING_UNITS, NGINX_EXPORTER_PORT, NODE_EXPORTER_PORT, POSTGRES_EXPORTER_PORT, PROMETHEUS_PORT,
} from '../../model/monitoring.js';
import { textfileDir } from '../backup/index.js';
import { PROMETHEUS_CA, caInstall } from '../pki.js';
import { RULES_FILE, RULES_TEST_FILE, rulesDoc, rulesTestDoc } from './rules.js';

export { alertDefs, runbookAnchor, runbookUrl, BACKUP_METRICS, BACKUP_MAX_AGE_HOURS } from './rules.js';

export const PROMETHEUS_DIR = '/etc/prometheus';
export const PROMETHEUS_CONFIG = `${PROMETHEUS_DIR}/prometheus.yml`;
export const ALERTMANAGER_CONFIG = `${PROMETHEUS_DIR}/alertmanager.yml`;
export const BLACKBOX_CONFIG = `${PROMETHEUS_DIR}/blackbox.yml`;
export const POSTGRES_QUERIES = `${PROMETHEUS_DIR}/postgres-exporter.queries.yml`;


export const MONITORING_SECRETS = {
  smtp: { name: 'ALERT_SMTP_PASSWORD', help: 'Password of monitoring.email.user at the SMTP relay (Alertmanager reads it from a file deploy.sh writes).' },
  webhook: { name: 'ALERT_WEBHOOK_PASSWORD', help: 'Basic-auth password of monitoring.webhookUser for monitoring.webhookUrl.' },
} satisfies Record<string, SecretDef>;

/** Where deploy.sh writes each password (root, 0600); the unit hands it to Alertmanager as a credential. */
const secretFile = (spec: Spec, what: 'smtp' | 'webhook') => `/etc/${spec.name}/alertmanager-${what}-password`;
const credential = (what: 'smtp' | 'webhook') => `/run/credentials/${MONITORING_UNITS.alertmanager}.service/${what}-password`;

const hostPort = (address: string, port: number) => `${address}:${port}`;

/** Where a Prometheus finds its Alertmanagers and blackbox exporter (hosts: addresses; containers: service names). */
export interface PrometheusWiring {
  alertmanagers: Record<string, unknown>;
  blackbox: string;
  /** The host label of a listed target: its model host (hosts) or its address (compose: the service). */
  hostLabel?: 'to' | 'address';
}

export function prometheusConfig(spec: Spec, dep: Deployment, me: string, wiring?: PrometheusWiring): Record<string, unknown> {
  const mon = dep.monitoring!;
  const addr = (name: string) => dep.hosts.find((h) => h.name === name)!.address;
  const s = `${spec.monitoring.scrapeInterval}s`;
  const w: PrometheusWiring = wiring ?? { alertmanagers: { static_configs: [{ targets: mon.alertmanager.map((h) => hostPort(addr(h), ALERTMANAGER_PORT)) }] }, blackbox: hostPort('127.0.0.1', BLACKBOX_PORT) };
  // swarm: every task of a replicated or global service, by DNS (the host label is the task's address).
  const dnsSd = (names: string[], port: number) => ({ dns_sd_configs: [{ names: [...new Set(names)], type: 'A', port, refresh_interval: s }] });
  const hostFromAddress = { source_labels: ['__address__'], target_label: 'host' };
  const hostOf = (t: { to: string; address: string }) => (w.hostLabel === 'address' ? t.address : t.to);
  return {
    global: {
      scrape_interval: s,
      scrape_timeout: `${Math.min(10, spec.monitoring.scrapeInterval)}s`,
      evaluation_interval: `${spec.monitoring.evaluationInterval}s`,
      // replica tells the two Prometheus apart in their own data; it is dropped from alerts below so
      // both send identical alerts and the Alertmanager cluster notifies once.
      external_labels: { deployment: spec.name, replica: me },
    },
    alerting: {
      alert_relabel_configs: [{ action: 'labeldrop', regex: 'replica' }],
      alertmanagers: [w.alertmanagers],
    },
    rule_files: [RULES_FILE],
    scrape_configs: [
      ...mon.jobs.map((j) => ({
        job_name: j.job,
        metrics_path: j.path,
        // by address: the member's certificate names it (and the host name, localhost, 127.0.0.1)
        ...(j.tls ? { scheme: 'https', tls_config: { ca_file: PROMETHEUS_CA } } : {}),
        ...(j.dns
          ? { ...dnsSd(j.targets.map((t) => t.address), j.targets[0]!.port), relabel_configs: [hostFromAddress] }
          : { static_configs: j.targets.map((t) => ({ targets: [hostPort(t.address, t.port)], labels: { host: hostOf(t) } })) }),
      })),
      ...mon.probes.map((p) => ({
        job_name: p.job,
        metrics_path: '/probe',
        params: { module: [p.module] },
        ...(p.dns
          ? { ...dnsSd(p.targets.map((t) => t.address), p.targets[0]!.port) }
          : { static_configs: p.targets.map((t) => ({ targets: [t.url], labels: { host: hostOf(t) } })) }),
        relabel_configs: [
          ...(p.dns
            ? [hostFromAddress, { source_labels: ['__address__'], target_label: '__param_target', replacement: `${p.dns.scheme}://$1${p.dns.path}` }]
            : [{ source_labels: ['__address__'], target_label: '__param_target' }]),
          { source_labels: ['__param_target'], target_label: 'instance' },
          { target_label: '__address__', replacement: w.blackbox },
        ],
      })),
    ],
  };
}

/** passwordFile: where Alertmanager reads each password (hosts: its systemd credential). */
export function alertmanagerConfig(spec: Spec, passwordFile: (what: 'smtp' | 'webhook') => string = credential): Record<string, unknown> {
  const m = spec.monitoring;
  const receiver: Record<string, unknown> = { name: 'operators' };
  if (m.webhookUrl) {
    receiver.webhook_configs = [{ url: m.webhookUrl, send_resolved: true, ...(m.webhookUser ? { http_config: { basic_auth: { username: m.webhookUser, password_file: passwordFile('webhook') } } } : {}) }];
  }
  if (m.email) {
    receiver.email_configs = [{
      to: m.email.to.join(', '), from: m.email.from, smarthost: `${m.email.smarthost}:${m.email.port}`, require_tls: m.email.requireTls, send_resolved: true,
      ...(m.email.user ? { auth_username: m.email.user, auth_password_file: passwordFile('smtp') } : {}),
    }];
  }
  return {
    route: {
      receiver: 'operators',
      group_by: ['alertname', 'host'],
      group_wait: `${m.groupWait}s`,
      group_interval: `${m.groupInterval}s`,
      repeat_interval: '4h',
    },
    receivers: [receiver],
  };
}

export function blackboxConfig(spec: Spec): Record<string, unknown> {
  const http = { valid_status_codes: [200], preferred_ip_protocol: 'ip4', ip_protocol_fallback: false, follow_redirects: false };
  return {
    modules: {
      http_health: { prober: 'http', timeout: '5s', http },
      // The certificate's expiry is read whoever signed it; the probe goes to each lb host's address, not the domain.
      https_health: { prober: 'http', timeout: '5s', http: { ...http, fail_if_not_ssl: true, tls_config: { insecure_skip_verify: true, ...(spec.domain ? { server_name: spec.domain } : {}) }, ...(spec.domain ? { headers: { Host: spec.domain } } : {}) } },
    },
  };
}

/** The postgres exporter's own queries: standby streaming, replay lag per standby, slots, archiver. */
export function postgresQueries(): Record<string, unknown> {
  const g = (description: string) => ({ usage: 'GAUGE', description });
  return {
    pg_replica: {
      query: "SELECT pg_is_in_recovery()::int AS standby, (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming",
      metrics: [{ standby: g('1 on a standby') }, { streaming: g('1 while a standby streams WAL from its primary') }],
    },
    pg_standby: {
      query: 'SELECT coalesce(host(client_addr), application_name) AS client_addr, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS lag_bytes FROM pg_stat_replication WHERE replay_lsn IS NOT NULL AND NOT pg_is_in_recovery()',
      metrics: [{ client_addr: { usage: 'LABEL', description: 'the standby' } }, { lag_bytes: g('bytes of WAL the standby has not replayed yet') }],
    },
    pg_slot: {
      query: 'SELECT slot_name, pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, restart_lsn) AS retained_bytes FROM pg_replication_slots WHERE restart_lsn IS NOT NULL',
      metrics: [{ slot_name: { usage: 'LABEL', description: 'replication slot' } }, { retained_bytes: g('bytes of WAL the slot keeps') }],
    },
    pg_archiver: {
      query: 'SELECT failed_count, archived_count, coalesce(extract(epoch FROM last_failed_time), 0) AS last_failed_time, coalesce(extract(epoch FROM last_archived_time), 0) AS last_archived_time FROM pg_stat_archiver',
      metrics: [{ failed_count: { usage: 'COUNTER', description: 'failed archive_command runs' } }, { archived_count: { usage: 'COUNTER', description: 'archived WAL segments' } }, { last_failed_time: g('Unix time of the last failure') }, { last_archived_time: g('Unix time of the last archived segment') }],
    },
  };
}

const strict = (writable: string[] = [], why: string[] = []) => sandbox({ system: 'strict', caps: [], writable, why });

function unit(description: string, service: Array<[string, string | number]>): Unit {
  return {
    Unit: [['Description', `${description} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
    Service: [['Type', 'simple'], ...service, ['Restart', 'always'], ['RestartSec', '2s']],
    Install: [['WantedBy', 'multi-user.target']],
  };
}

export function prometheusUnit(spec: Spec, bind: string): Unit {
  return unit(`Prometheus for ${spec.name}`, [
    ['User', 'prometheus'], ['Group', 'prometheus'],
    ['ExecStartPre', `/usr/bin/promtool check config ${PROMETHEUS_CONFIG}`],
    ['ExecStart', `/usr/bin/prometheus --config.file=${PROMETHEUS_CONFIG} --storage.tsdb.path=/var/lib/prometheus/metrics2 --storage.tsdb.retention.time=15d --web.listen-address=${hostPort(bind, PROMETHEUS_PORT)}`],
    ['ExecReload', '/bin/kill -HUP $MAINPID'],
    ['TimeoutStopSec', 60],
    ...strict(['/var/lib/prometheus']),
  ]);
}

export function alertmanagerUnit(spec: Spec, bind: string, peers: string[]): Unit {
  const m = spec.monitoring;
  const creds: Array<[string, string]> = [];
  if (m.email?.user) creds.push(['LoadCredential', `smtp-password:${secretFile(spec, 'smtp')}`]);
  if (m.webhookUser) creds.push(['LoadCredential', `webhook-password:${secretFile(spec, 'webhook')}`]);
  const cluster = peers.length ? `--cluster.listen-address=${hostPort(bind, ALERTMANAGER_CLUSTER_PORT)} ${peers.map((p) => `--cluster.peer=${hostPort(p, ALERTMANAGER_CLUSTER_PORT)}`).join(' ')}` : '--cluster.listen-address=';
  return unit(`Alertmanager for ${spec.name}`, [
    ['User', 'prometheus'], ['Group', 'prometheus'],
    // Passwords reach it as systemd credentials (root-only files on disk, readable by this service only).
    ...creds,
    ['ExecStart', `/usr/bin/prometheus-alertmanager --config.file=${ALERTMANAGER_CONFIG} --storage.path=/var/lib/prometheus/alertmanager --web.listen-address=${hostPort(bind, ALERTMANAGER_PORT)} ${cluster}`],
    ['ExecReload', '/bin/kill -HUP $MAINPID'],
    ...strict(['/var/lib/prometheus']),
  ]);
}

const exporterUnit = (spec: Spec, what: string, user: string, exec: string, extra: Array<[string, string | number]> = []) =>
  unit(`${what} for ${spec.name}`, [['User', user], ['Group', user], ...extra, ['ExecStart', exec], ...strict()]);

/** Every monitoring file and unit on the hosts, and the deploy steps for them. */
export function renderMonitoringHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan): void {
  const dep = deploymentOf(spec);
  const mon = dep.monitoring;
  if (!mon) return;
  const byName = new Map(spec.hosts.map((h) => [h.name, h]));
  const svcOn = (h: Host, id: string) => dep.hosts.find((x) => x.name === h.name)?.services.find((s) => s.id === id);
  const bindFor = (h: Host, id: string) => svcOn(h, id)?.ports[0]?.bind ?? '127.0.0.1';
  const sysd = { checks: [{ tool: 'systemd' as const }] };
  const ruleChecks = { checks: [{ tool: 'promtool-rules' as const }, { tool: 'yaml' as const }] };

  if (spec.monitoring.email?.user) b.secret(MONITORING_SECRETS.smtp);
  if (spec.monitoring.webhookUser) b.secret(MONITORING_SECRETS.webhook);
  const rules = toYaml(rulesDoc(spec, dep), ctx, `Alert rules of ${spec.name}: each links its section of RUNBOOK.md. Tested by ${RULES_TEST_FILE} (promtool test rules).`);
  const tests = toYaml(rulesTestDoc(spec, dep), ctx, `promtool test rules ${RULES_TEST_FILE}: for every alert, one input that fires it and one that must not.`);
  const amDoc = alertmanagerConfig(spec);

  for (const name of mon.prometheus) {
    const h = byName.get(name)!;
    const bind = bindFor(h, 'prometheus');
    // The bundle's CA, to verify what it scrapes over HTTPS (Patroni's REST API).
    if (mon.jobs.some((j) => j.tls)) addSteps(plan, h, 'prometheus', { pki: [caInstall(PROMETHEUS_CA)] });
    b.add(hostFile(h, PROMETHEUS_CONFIG), toYaml(prometheusConfig(spec, dep, name), ctx, `Prometheus on ${name} (${mon.prometheus.indexOf(name) + 1} of ${mon.prometheus.length}): scrapes every target of the deployment, sends alerts to every Alertmanager.`), { checks: [{ tool: 'promtool-config' }, { tool: 'yaml' }] });
    b.add(hostFile(h, `${PROMETHEUS_DIR}/${RULES_FILE}`), rules, ruleChecks);
    b.add(hostFile(h, `${PROMETHEUS_DIR}/${RULES_TEST_FILE}`), tests, { checks: [{ tool: 'promtool-test' }, { tool: 'yaml' }] });
    b.add(hostFile(h, BLACKBOX_CONFIG), toYaml(blackboxConfig(spec), ctx, 'blackbox exporter modules: the health probes of the front door and the app instances.'), { checks: [{ tool: 'blackbox' }, { tool: 'yaml' }] });
    b.add(hostFile(h, `/etc/systemd/system/${MONITORING_UNITS.prometheus}.service`), renderUnit(prometheusUnit(spec, bind), ctx), sysd);
    b.add(hostFile(h, `/etc/systemd/system/${MONITORING_UNITS.blackbox}.service`), renderUnit(exporterUnit(spec, 'blackbox exporter', 'prometheus', `/usr/bin/prometheus-blackbox-exporter --config.file=${BLACKBOX_CONFIG} --web.listen-address=${hostPort('127.0.0.1', BLACKBOX_PORT)}`), ctx), sysd);
  }
  for (const name of mon.alertmanager) {
    const h = byName.get(name)!;
    const peers = mon.alertmanager.filter((p) => p !== name).map((p) => byName.get(p)!.address);
    b.add(hostFile(h, ALERTMANAGER_CONFIG), toYaml(amDoc, ctx, `Alertmanager on ${name}${mon.alertmanager.length > 1 ? `, one of ${mon.alertmanager.length} peers: the cluster sends each notification once` : ''}.`), { checks: [{ tool: 'amtool' }, { tool: 'yaml' }] });
    b.add(hostFile(h, `/etc/systemd/system/${MONITORING_UNITS.alertmanager}.service`), renderUnit(alertmanagerUnit(spec, bindFor(h, 'alertmanager'), peers), ctx), sysd);
    const entries = (what: 'smtp' | 'webhook', s: SecretDef) => addSteps(plan, h, 'alertmanager', { envFile: { path: secretFile(spec, what), raw: true, entries: [{ name: s.name, value: `$${s.name}` }] } });
    if (spec.monitoring.email?.user) entries('smtp', MONITORING_SECRETS.smtp);
    if (spec.monitoring.webhookUser) entries('webhook', MONITORING_SECRETS.webhook);
  }
  for (const h of spec.hosts) {
    b.add(hostFile(h, `/etc/systemd/system/${MONITORING_UNITS.node}.service`), renderUnit(exporterUnit(spec, 'node exporter', 'prometheus', `/usr/bin/prometheus-node-exporter --web.listen-address=${hostPort(bindFor(h, 'node-exporter'), NODE_EXPORTER_PORT)} --collector.textfile.directory=${textfileDir(spec)}`, [['ExecStartPre', `+/bin/mkdir -p ${textfileDir(spec)}`]]), ctx), sysd);
  }
  for (const name of dep.members.db) {
    const h = byName.get(name)!;
    b.add(hostFile(h, POSTGRES_QUERIES), toYaml(postgresQueries(), ctx, 'postgres exporter queries (--extend.query-path): replication, slots and WAL archiving for the alert rules.'), { checks: [{ tool: 'yaml' }] });
    b.add(
      hostFile(h, `/etc/systemd/system/${MONITORING_UNITS.postgres}.service`),
      renderUnit(exporterUnit(spec, 'postgres exporter', 'postgres', `/usr/bin/prometheus-postgres-exporter --web.listen-address=${hostPort(bindFor(h, 'postgres-exporter'), POSTGRES_EXPORTER_PORT)} --extend.query-path=${POSTGRES_QUERIES}`, [
        // The local socket as the postgres user (peer authentication): no password anywhere.
        ['Environment', `"DATA_SOURCE_NAME=host=/var/run/postgresql port=${spec.database.port} user=postgres dbname=postgres sslmode=disable"`],
      ]), ctx),
      sysd,
    );
  }
  if (spec.loadBalancer.kind === 'nginx') {
    for (const name of dep.members.lb) {
      const h = byName.get(name)!;
      b.add(hostFile(h, `/etc/systemd/system/${MONITORING_UNITS.nginx}.service`), renderUnit(exporterUnit(spec, 'nginx exporter', 'prometheus', `/usr/bin/prometheus-nginx-exporter -nginx.scrape-uri=http://127.0.0.1:${LB_METRICS_PORT}/stub_status -web.listen-address=${hostPort(bindFor(h, 'nginx-exporter'), NGINX_EXPORTER_PORT)}`), ctx), sysd);
    }
  }
}
