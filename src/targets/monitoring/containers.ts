/**
 * Monitoring on compose and swarm: the same prometheus.yml generator, rules, rule tests, blackbox
 * modules and postgres exporter queries as on hosts, aimed at the model's container targets, and the
 * services that run them (official images, pinned). Passwords of Alertmanager's receivers reach it
 * as files (*_file settings): Swarm secrets, or on compose files a wrapper writes from .env into a
 * tmpfs at start. No metrics port is published; compose publishes the Prometheus and Alertmanager
 * web UIs on the host's 127.0.0.1 only (no authentication on them: reach them through SSH).
 */
import type { Spec } from '../../spec/schema.js';
import type { RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { toYaml } from '../../render/yaml.js';
import { deploymentOf } from '../../model/index.js';
import { ALERTMANAGER_CLUSTER_PORT, ALERTMANAGER_PORT, BLACKBOX_PORT, LB_METRICS_PORT, MONITORING_LABEL, MONITORING_SERVICES as S, NGINX_EXPORTER_PORT, NODE_EXPORTER_PORT, POSTGRES_EXPORTER_PORT, PROMETHEUS_PORT } from '../../model/monitoring.js';
import { dbMemberNames } from '../../model/containers.js';
import { backupMetricsDir, METRICS_VOLUME, socketVolume } from '../backup/index.js';
import { composeVar } from '../secrets.js';
import { configName, swarmEnvSecret, type SwarmStack } from '../swarm/stack.js';
import { alertmanagerConfig, blackboxConfig, MONITORING_SECRETS, postgresQueries, prometheusConfig } from './index.js';
import { RULES_FILE, RULES_TEST_FILE, rulesDoc, rulesTestDoc } from './rules.js';

/** The official images, pinned (upgrade deliberately). */
export const MONITORING_IMAGES = {
  prometheus: 'prom/prometheus:v2.53.2',
  alertmanager: 'prom/alertmanager:v0.27.0',
  node: 'prom/node-exporter:v1.8.2',
  postgres: 'prometheuscommunity/postgres-exporter:v0.15.0',
  blackbox: 'prom/blackbox-exporter:v0.25.0',
  nginx: 'nginx/nginx-prometheus-exporter:1.3.0',
} as const;

/** Bundle files (compose bind-mounts them, swarm makes them configs). */
export const MONITORING_FILES = {
  prometheus: 'monitoring/prometheus.yml',
  rules: `monitoring/${RULES_FILE}`,
  tests: `monitoring/${RULES_TEST_FILE}`,
  alertmanager: 'monitoring/alertmanager.yml',
  blackbox: 'monitoring/blackbox.yml',
  queries: 'monitoring/postgres-exporter.queries.yml',
} as const;

/** Where the images read them (the official images' paths). */
const IN = {
  prometheus: '/etc/prometheus/prometheus.yml',
  rules: `/etc/prometheus/${RULES_FILE}`,
  alertmanager: '/etc/alertmanager/alertmanager.yml',
  blackbox: '/etc/blackbox_exporter/config.yml',
  queries: '/etc/postgres-exporter/queries.yml',
};
const SOCKET_DIR = '/var/run/postgresql';
/** The official postgres image's postgres user (also the Patroni image's, built FROM it). */
const POSTGRES_UID = '999:999';
/** compose: the tmpfs the Alertmanager wrapper writes the receivers' passwords into. */
const COMPOSE_SECRET_DIR = '/run/alertmanager';

/** The metrics listener the LB's own config gets (the model's port of the lb service). */
export function containerLbMetrics(spec: Spec): { bind: string; port: number; allowFrom?: string } | undefined {
  const dep = deploymentOf(spec);
  const p = dep.hosts.flatMap((h) => h.services).find((s) => s.id === 'lb')?.ports.find((x) => x.port === LB_METRICS_PORT);
  if (!p) return undefined;
  // swarm nginx: the exporter is another container on the edge network.
  return { bind: p.bind, port: p.port, ...(spec.loadBalancer.kind === 'nginx' && spec.platform === 'swarm' ? { allowFrom: 'all' } : {}) };
}

const passwordsUsed = (spec: Spec) => [...(spec.monitoring.email?.user ? (['smtp'] as const) : []), ...(spec.monitoring.webhookUser ? (['webhook'] as const) : [])];

/** The monitoring files, shared by compose and swarm. */
function addFiles(spec: Spec, ctx: RenderContext, b: BundleBuilder, passwordFile: (what: 'smtp' | 'webhook') => string): void {
  const dep = deploymentOf(spec);
  const mon = dep.monitoring!;
  const swarm = spec.platform === 'swarm';
  const wiring = swarm
    ? { alertmanagers: { dns_sd_configs: [{ names: [`tasks.${S.alertmanager}`], type: 'A', port: ALERTMANAGER_PORT }] }, blackbox: `tasks.${S.blackbox}:${BLACKBOX_PORT}` }
    : { alertmanagers: { static_configs: [{ targets: [`${S.alertmanager}:${ALERTMANAGER_PORT}`] }] }, blackbox: `${S.blackbox}:${BLACKBOX_PORT}`, hostLabel: 'address' as const };
  // swarm: both replicas read one config; each names itself through PROMETHEUS_REPLICA (expand-external-labels).
  const me = swarm ? '${PROMETHEUS_REPLICA}' : mon.prometheus[0]!;
  b.add(MONITORING_FILES.prometheus, toYaml(prometheusConfig(spec, dep, me, wiring), ctx, `Prometheus (${mon.prometheus.length} of them${swarm ? ', one per node labelled monitoring=true' : ''}): scrapes every target of the ${spec.platform} deployment, sends alerts to every Alertmanager.`), { checks: [{ tool: 'promtool-config' }, { tool: 'yaml' }] });
  b.add(MONITORING_FILES.rules, toYaml(rulesDoc(spec, dep), ctx, `Alert rules of ${spec.name}: each links its section of RUNBOOK.md. Tested by ${RULES_TEST_FILE} (promtool test rules).`), { checks: [{ tool: 'promtool-rules' }, { tool: 'yaml' }] });
  b.add(MONITORING_FILES.tests, toYaml(rulesTestDoc(spec, dep), ctx, `promtool test rules ${RULES_TEST_FILE}: for every alert, one input that fires it and one that must not.`), { checks: [{ tool: 'promtool-test' }, { tool: 'yaml' }] });
  b.add(MONITORING_FILES.alertmanager, toYaml(alertmanagerConfig(spec, passwordFile), ctx, `Alertmanager${mon.alertmanager.length > 1 ? `, ${mon.alertmanager.length} peers: the cluster sends each notification once` : ''}. Passwords are read from files (*_file), never written here.`), { checks: [{ tool: 'amtool' }, { tool: 'yaml' }] });
  b.add(MONITORING_FILES.blackbox, toYaml(blackboxConfig(spec), ctx, 'blackbox exporter modules: the health probes of the front door and the app instances.'), { checks: [{ tool: 'blackbox' }, { tool: 'yaml' }] });
  b.add(MONITORING_FILES.queries, toYaml(postgresQueries(), ctx, 'postgres exporter queries (--extend.query-path): replication, slots and WAL archiving for the alert rules.'), { checks: [{ tool: 'yaml' }] });
  for (const w of passwordsUsed(spec)) b.secret(MONITORING_SECRETS[w]);
}

const prometheusArgs = (extra: string[] = []) => [`--config.file=${IN.prometheus}`, '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=15d', `--web.listen-address=:${PROMETHEUS_PORT}`, ...extra];
const alertmanagerArgs = (peers: string[]) => [`--config.file=${IN.alertmanager}`, '--storage.path=/alertmanager', `--web.listen-address=:${ALERTMANAGER_PORT}`, ...(peers.length ? [`--cluster.listen-address=0.0.0.0:${ALERTMANAGER_CLUSTER_PORT}`, ...peers.map((p) => `--cluster.peer=${p}:${ALERTMANAGER_CLUSTER_PORT}`)] : ['--cluster.listen-address='])];
const postgresEnv = (spec: Spec) => ({ DATA_SOURCE_NAME: `host=${SOCKET_DIR} port=${spec.database.port} user=postgres dbname=postgres sslmode=disable` });
const hardening = { security_opt: ['no-new-privileges:true'] };
/** The backup services' metrics volume (BackupFailed, BackupTooOld), read by the node exporter's textfile collector. */
const textfileArgs = (spec: Spec) => (backupMetricsDir(spec) ? [`--collector.textfile.directory=${backupMetricsDir(spec)}`] : []);
const textfileVolumes = (spec: Spec) => (backupMetricsDir(spec) ? [`${METRICS_VOLUME}:${backupMetricsDir(spec)}:ro`] : []);

export interface ComposeMonitoring {
  services: Record<string, unknown>;
  volumes: string[];
  networks: Record<string, unknown>;
}

/**
 * compose: the monitoring services beside the others. `services` are the bundle's other services:
 * a database member without its socket volume gets it (the postgres exporter connects through it as
 * postgres, peer authentication: no password anywhere).
 */
export function renderMonitoringCompose(spec: Spec, ctx: RenderContext, b: BundleBuilder, services: Record<string, unknown>): ComposeMonitoring | undefined {
  if (!deploymentOf(spec).monitoring) return undefined;
  const secretFile = (w: 'smtp' | 'webhook') => `${COMPOSE_SECRET_DIR}/${w}-password`;
  addFiles(spec, ctx, b, secretFile);
  const out: ComposeMonitoring = { services: {}, volumes: ['prometheus-data', 'alertmanager-data', METRICS_VOLUME], networks: { monitoring: {} } };
  const kind = spec.loadBalancer.kind;
  out.services[S.prometheus] = {
    image: MONITORING_IMAGES.prometheus,
    restart: 'unless-stopped',
    command: prometheusArgs(),
    volumes: [`./${MONITORING_FILES.prometheus}:${IN.prometheus}:ro`, `./${MONITORING_FILES.rules}:${IN.rules}:ro`, 'prometheus-data:/prometheus'],
    // Its web UI has no authentication: the host's loopback only (ssh -L 9090:127.0.0.1:9090).
    ports: [`127.0.0.1:${PROMETHEUS_PORT}:${PROMETHEUS_PORT}`],
    // It scrapes the LB and the app (edge), the database tier (data) and the exporters (monitoring).
    networks: ['edge', 'data', 'monitoring'],
    ...hardening,
  };
  const used = passwordsUsed(spec);
  // Alertmanager reads passwords from files only: the wrapper writes them from .env into a tmpfs.
  const wrap = used.length
    ? {
        entrypoint: ['/bin/sh', '-c', `umask 077; ${used.map((w) => `printf '%s' "$$${MONITORING_SECRETS[w].name}" > ${secretFile(w)}`).join('; ')}; exec /bin/alertmanager "$$@"`, 'alertmanager'],
        environment: Object.fromEntries(used.map((w) => [MONITORING_SECRETS[w].name, composeVar(MONITORING_SECRETS[w].name)])),
        tmpfs: [`${COMPOSE_SECRET_DIR}:mode=1777,size=64k`],
      }
    : {};
  out.services[S.alertmanager] = {
    image: MONITORING_IMAGES.alertmanager,
    restart: 'unless-stopped',
    ...wrap,
    command: alertmanagerArgs([]),
    volumes: [`./${MONITORING_FILES.alertmanager}:${IN.alertmanager}:ro`, 'alertmanager-data:/alertmanager'],
    ports: [`127.0.0.1:${ALERTMANAGER_PORT}:${ALERTMANAGER_PORT}`],
    // Prometheus reaches it here; the network is not internal, so it can reach the webhook and SMTP relay.
    networks: ['monitoring'],
    ...hardening,
  };
  out.services[S.blackbox] = {
    image: MONITORING_IMAGES.blackbox,
    restart: 'unless-stopped',
    command: [`--config.file=${IN.blackbox}`],
    volumes: [`./${MONITORING_FILES.blackbox}:${IN.blackbox}:ro`],
    // It probes the app instances and the LB (edge), where Prometheus reaches it too.
    networks: ['edge'],
    ...hardening,
  };
  out.services[S.node] = {
    image: MONITORING_IMAGES.node,
    restart: 'unless-stopped',
    // The official docs' host pid and read-only root file system (without their rslave: Docker refuses
    // it where / is a private mount, and it only adds mounts made after the start); not the host's
    // network, where it would listen on every interface: Prometheus reaches it on the monitoring network.
    command: ['--path.rootfs=/host', ...textfileArgs(spec)],
    pid: 'host',
    volumes: ['/:/host:ro', ...textfileVolumes(spec)],
    networks: ['monitoring'],
    ...hardening,
  };
  for (const m of dbMemberNames(spec)) {
    const member = services[m] as { volumes: string[] } | undefined;
    if (member && !member.volumes.some((v) => v.startsWith(`${socketVolume(m)}:`))) member.volumes.push(`${socketVolume(m)}:${SOCKET_DIR}`);
    if (!out.volumes.includes(socketVolume(m))) out.volumes.push(socketVolume(m));
    out.services[S.postgres(m)] = {
      image: MONITORING_IMAGES.postgres,
      restart: 'unless-stopped',
      // As the postgres user of the database image, through the member's socket: peer authentication.
      user: POSTGRES_UID,
      command: [`--extend.query-path=${IN.queries}`, `--web.listen-address=:${POSTGRES_EXPORTER_PORT}`],
      environment: postgresEnv(spec),
      volumes: [`${socketVolume(m)}:${SOCKET_DIR}`, `./${MONITORING_FILES.queries}:${IN.queries}:ro`],
      // The member creates the socket volume (with its image's permissions) before this mounts it.
      depends_on: [m],
      networks: ['monitoring'],
      ...hardening,
    };
  }
  if (kind === 'nginx') {
    out.services[S.nginx] = {
      image: MONITORING_IMAGES.nginx,
      restart: 'unless-stopped',
      // In nginx's network namespace: stub_status stays on its localhost; Prometheus scrapes nginx:9113.
      network_mode: `service:${kind}`,
      command: [`--nginx.scrape-uri=http://127.0.0.1:${LB_METRICS_PORT}/stub_status`, `--web.listen-address=:${NGINX_EXPORTER_PORT}`],
      depends_on: [kind],
      ...hardening,
    };
  }
  b.resolveNames(S.prometheus, S.alertmanager, S.blackbox, S.node, ...dbMemberNames(spec).map(S.postgres));
  return out;
}

/** swarm: the monitoring services into the stack (and its monitoring network). */
export function renderMonitoringSwarm(spec: Spec, ctx: RenderContext, b: BundleBuilder, stack: SwarmStack): boolean {
  const dep = deploymentOf(spec);
  const mon = dep.monitoring;
  if (!mon) return false;
  const secretTarget = (w: 'smtp' | 'webhook') => `/run/secrets/${MONITORING_SECRETS[w].name}`;
  addFiles(spec, ctx, b, secretTarget);
  const config = (key: string, file: string, target: string) => {
    const name = configName(spec, key, b.contents(file));
    stack.configs[name] = { file: `./${file}` };
    return { source: name, target, mode: 0o444 };
  };
  const n = mon.prometheus.length;
  const onMonitoringNodes = { replicas: n, placement: { constraints: [`node.labels.${MONITORING_LABEL.replace('=', ' == ')}`], max_replicas_per_node: 1 }, restart_policy: { condition: 'any', delay: '5s' } };
  stack.services[S.prometheus] = {
    image: MONITORING_IMAGES.prometheus,
    command: prometheusArgs(['--enable-feature=expand-external-labels']),
    // Each replica's external label replica (dropped on alerting, so the Alertmanagers deduplicate).
    environment: { PROMETHEUS_REPLICA: 'prometheus-{{.Task.Slot}}' },
    configs: [config('prometheus_yml', MONITORING_FILES.prometheus, IN.prometheus), config('prometheus_rules', MONITORING_FILES.rules, IN.rules)],
    volumes: ['prometheus-data:/prometheus'],
    // Not the app: it joins the networks whose services it scrapes (edge, data, db) and monitoring.
    networks: ['edge', 'data', 'db', 'monitoring'],
    deploy: onMonitoringNodes,
  };
  const secrets = passwordsUsed(spec).map((w) => swarmEnvSecret(spec, stack, MONITORING_SECRETS[w]));
  stack.services[S.alertmanager] = {
    image: MONITORING_IMAGES.alertmanager,
    // The peers find each other through tasks.alertmanager (every task's address; its own is skipped).
    // Each advertises its monitoring-network address: left alone, Alertmanager picks the interface of
    // the default route (docker_gwbridge), which the other nodes cannot reach.
    ...(n > 1 ? { entrypoint: ['/bin/sh', '-c', `exec /bin/alertmanager "$$@" --cluster.advertise-address="$$(hostname -i | cut -d ' ' -f 1):${ALERTMANAGER_CLUSTER_PORT}"`, 'alertmanager'] } : {}),
    command: alertmanagerArgs(n > 1 ? [`tasks.${S.alertmanager}`] : []),
    configs: [config('alertmanager_yml', MONITORING_FILES.alertmanager, IN.alertmanager)],
    ...(secrets.length ? { secrets } : {}),
    volumes: ['alertmanager-data:/alertmanager'],
    // Only what it needs: Prometheus and its peers on monitoring (not internal: webhook and SMTP relay).
    networks: ['monitoring'],
    deploy: onMonitoringNodes,
  };
  stack.services[S.blackbox] = {
    image: MONITORING_IMAGES.blackbox,
    command: [`--config.file=${IN.blackbox}`],
    configs: [config('blackbox_yml', MONITORING_FILES.blackbox, IN.blackbox)],
    networks: ['edge'],
    deploy: onMonitoringNodes,
  };
  stack.services[S.node] = {
    image: MONITORING_IMAGES.node,
    // Swarm has no host pid; the root file system read-only (as on compose, without rslave). Not the
    // host's network (it would listen on every interface): Prometheus finds every task by DNS.
    command: ['--path.rootfs=/host', ...textfileArgs(spec)],
    volumes: [{ type: 'bind', source: '/', target: '/host', read_only: true }, ...textfileVolumes(spec)],
    networks: ['monitoring'],
    deploy: { mode: 'global', restart_policy: { condition: 'any', delay: '5s' } },
  };
  for (const m of dbMemberNames(spec)) {
    const member = stack.services[m] as { volumes: string[]; deploy: { placement: unknown } } | undefined;
    if (!member) continue;
    if (!member.volumes.some((v) => v.startsWith(`${socketVolume(m)}:`))) member.volumes.push(`${socketVolume(m)}:${SOCKET_DIR}`);
    stack.volumes[socketVolume(m)] = {};
    stack.services[S.postgres(m)] = {
      image: MONITORING_IMAGES.postgres,
      user: POSTGRES_UID,
      command: [`--extend.query-path=${IN.queries}`, `--web.listen-address=:${POSTGRES_EXPORTER_PORT}`],
      environment: postgresEnv(spec),
      // The member's socket volume is local to its node: the exporter runs on the member's node.
      volumes: [`${socketVolume(m)}:${SOCKET_DIR}`],
      configs: [config('pg_exporter_queries', MONITORING_FILES.queries, IN.queries)],
      networks: ['monitoring'],
      deploy: { replicas: 1, placement: member.deploy.placement, restart_policy: { condition: 'any', delay: '5s' } },
    };
  }
  if (spec.loadBalancer.kind === 'nginx') {
    stack.services[S.nginx] = {
      image: MONITORING_IMAGES.nginx,
      // One nginx task's stub_status per scrape (tasks.nginx): Swarm has no per-task sidecar.
      command: [`--nginx.scrape-uri=http://tasks.nginx:${LB_METRICS_PORT}/stub_status`, `--web.listen-address=:${NGINX_EXPORTER_PORT}`],
      networks: ['edge'],
      deploy: { replicas: 1, restart_policy: { condition: 'any', delay: '5s' } },
    };
  }
  stack.volumes['prometheus-data'] = {};
  stack.volumes['alertmanager-data'] = {};
  stack.volumes[METRICS_VOLUME] = {};
  stack.labels.push({ label: MONITORING_LABEL, what: `runs Prometheus, Alertmanager and the blackbox exporter (one each per node; label ${n} nodes)` });
  return true;
}
