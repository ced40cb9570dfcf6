import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { toYaml } from '../../render/yaml.js';
import { renderTemplate } from '../../render/templates.js';
import deploySource from '../../../templates/swarm/deploy.sh.hbs?raw';
import { envLoaderShell } from '../env/loader.js';
import { lbModel } from '../lb-model.js';
import { loadBalancerOf } from '../lb/index.js';
import { keepalivedSwarm } from '../keepalived/index.js';
import { appHealthcheck, appEnvironment } from '../compose/index.js';
import { SECRETS } from '../secrets.js';
import { renderDatabaseSwarm } from '../postgres/swarm.js';
import { renderContainerStorage } from '../storage/index.js';
import { renderSwarmDeploy } from '../deploy/index.js';
import type { LbRenderOptions } from '../lb/types.js';
import type { SecretDef } from '../../render/bundle.js';
import { containerLbMetrics, renderMonitoringSwarm } from '../monitoring/containers.js';
import { wireSwarmPki } from '../pki-containers.js';
import { backupOverride } from '../backup/index.js';


export { configName, type SwarmStack } from './stack.js';
import { configName, MONITORING_NETWORK, secretsEnvWrapper, swarmEnvSecret, SWARM_NETWORKS, swarmNetworksOf, type SwarmStack } from './stack.js';

/** Platform swarm: one stack file (docker stack deploy), LB configs as Swarm configs, secrets from .env. */
export interface SwarmOptions {
  /** Multi-region: every service is pinned to nodes labelled region=<name>. */
  region?: string;
  /** Where deploy.sh finds .env, relative to itself (regions/<name>/ uses the bundle root's). */
  envRel?: string;
  /** Extra environment for the app (multi-region: the read endpoint). */
  appEnv?: Record<string, string>;
  /** Where stack.yml finds the bundle's pki/ folder (regions/<name>/ uses the bundle root's). */
  pkiRel?: string;
  /** Prefix of this stack's certificate names in pki/ (a region's name and a dot). */
  certPrefix?: string;
}

const swarmVar = (name: string) => `\${${name}:?${name} is not set}`;

/** Platform swarm: one stack file (docker stack deploy), LB configs as Swarm configs, secrets from .env. */
export function renderSwarm(spec: Spec, ctx: RenderContext, b: BundleBuilder, o: SwarmOptions = {}): SwarmStack {
  const lbm = loadBalancerOf(spec);
  const kind = lbm.kind;
  const lb = { file: lbm.container.file, target: lbm.container.mount, dir: lbm.container.dir };
  const h = header(ctx);
  const stack: SwarmStack = { services: {}, volumes: {}, secrets: {}, secretEnv: {}, configs: {}, labels: [] };
  b.secret(SECRETS.jwt).secret(SECRETS.appDb).secret(SECRETS.pgSuper);

  // 1. database services (and the endpoint the app uses)
  const db = renderDatabaseSwarm(spec, ctx, b, stack, { certPrefix: o.certPrefix ?? '' });
  b.resolveNames('tasks.app', 'app', 'tasks.app-green', db.host);

  // 2. shared storage for uploads
  const swarmSecret = (key: string, def: SecretDef) => {
    b.secret(def);
    stack.secrets[key] = { name: `${spec.name}_${key}`, external: true };
    stack.secretEnv[key] = def.name;
    return key;
  };
  const swarmConfig = (key: string, file: string) => {
    const name = configName(spec, key, b.contents(file));
    stack.configs[name] = { file: `./${file}` };
    return name;
  };
  const storage = renderContainerStorage(spec, ctx, b, { platform: 'swarm', networks: swarmNetworksOf(spec, 'storage'), secretVar: swarmVar, swarmSecret, swarmConfig });
  Object.assign(stack.volumes, storage.volumes);
  Object.assign(stack.services, storage.services);
  if (storage.services.minio) stack.labels.push({ label: 'storage=true', what: 'runs MinIO (its data volume lives there)' });
  if (spec.storage.kind === 'glusterfs') stack.labels.push({ label: 'app=true', what: 'runs app replicas (one per node); mount the GlusterFS volume there first: storage/glusterfs/mount-client.sh' });

  // 3. app: replicas spread one per node, updated one at a time, new before old
  const healthcheck = appHealthcheck(spec);
  const app = (replicas: number) => ({
    image: spec.app.image,
    // The app reads JWT_SECRET and DATABASE_URL from its environment only (no *_FILE support, and no
    // shell in the image to wrap it with), so these are interpolated from .env at deploy time rather
    // than mounted as Swarm secrets: they show in `docker service inspect` (README says so).
    // Every other service's passwords are Swarm secrets.
    environment: { ...appEnvironment(spec, db.host, db.port), ...storage.appEnv, ...(o.appEnv ?? {}) },
    ...(storage.appVolume ? { volumes: [storage.appVolume] } : {}),
    ...(healthcheck ? { healthcheck } : {}),
    stop_grace_period: `${spec.app.stopGracePeriod}s`,
    // edge for the load balancer, data for the database endpoint and MinIO; never the db network.
    networks: ['edge', 'data'],
    deploy: {
      replicas,
      update_config: { parallelism: 1, delay: '10s', order: 'start-first', failure_action: 'rollback', monitor: '30s', max_failure_ratio: 0 },
      rollback_config: { parallelism: 1, delay: '5s', order: 'start-first', failure_action: 'pause', monitor: '30s' },
      restart_policy: { condition: 'any', delay: '5s', window: '30s' },
      // Spread one per node as a preference: max_replicas_per_node: 1 would leave a start-first update
      // no node for the new task once every app node runs one replica, and the update would never start.
      placement: { constraints: ['node.labels.app == true'], preferences: [{ spread: 'node.id' }] },
    },
  });
  stack.services.app = app(spec.app.replicas);
  // Blue-green: the green copy of the app sleeps at 0 replicas until deploy/blue-green.sh starts it.
  stack.services['app-green'] = app(0);
  if (!stack.labels.some((l) => l.label === 'app=true')) stack.labels.push({ label: 'app=true', what: 'runs app replicas (one per node)' });

  // 3. load balancer: every lb-labelled node, config as a Swarm config
  const model = lbModel(spec, { kind: 'dns', name: 'tasks.app', port: spec.app.port, count: spec.app.replicas }, lb.dir);
  // The stats page only inside the LB's own container (docker exec; its overlay peers include the app).
  const metrics = containerLbMetrics(spec);
  // One set of options for this config and blue-green's green one (a switch keeps the metrics listener).
  const lbOptions: LbRenderOptions = { statsBind: '127.0.0.1', ...(metrics ? { metrics } : {}) };
  const lbText = lbm.render(model, h, lbOptions);
  b.add(lb.file, lbText, { checks: [{ tool: kind }] });
  const cfg = configName(spec, `${kind}_conf`, lbText);
  stack.configs[cfg] = { file: `./${lb.file}` };
  renderSwarmDeploy(spec, ctx, b, lb, lbOptions, cfg, (key, text) => configName(spec, key, text));
  const ports: Array<Record<string, unknown>> = [{ target: spec.loadBalancer.httpPort, published: spec.loadBalancer.httpPort, protocol: 'tcp', mode: 'host' }];
  if (spec.loadBalancer.tls !== 'none') ports.push({ target: spec.loadBalancer.httpsPort, published: spec.loadBalancer.httpsPort, protocol: 'tcp', mode: 'host' });
  if (lbm.statsPage) b.secret(SECRETS.haproxyStats);
  // tls: files — the certificate and key reach every LB task as Swarm secrets read from those paths
  // on the manager at deploy time (Swarm secrets are immutable: rotate under a new name).
  const tlsSecrets: Array<{ source: string; target: string; mode: number }> = [];
  if (spec.loadBalancer.tls === 'files') {
    const singlePem = lbm.tlsHelper?.singlePem ?? false;
    const certTarget = singlePem ? (lbText.match(/\sssl crt (\S+)/)?.[1] ?? spec.loadBalancer.certFile) : spec.loadBalancer.certFile;
    // HAProxy reads the key from `<crt>.key` when the PEM holds only the certificate.
    const keyTarget = singlePem ? `${certTarget}.key` : spec.loadBalancer.keyFile;
    stack.secrets.tls_cert = { file: spec.loadBalancer.certFile, name: `${spec.name}_tls_cert` };
    stack.secrets.tls_key = { file: spec.loadBalancer.keyFile, name: `${spec.name}_tls_key` };
    tlsSecrets.push({ source: 'tls_cert', target: certTarget, mode: 0o444 }, { source: 'tls_key', target: keyTarget, mode: 0o400 });
  }
  // The stats password as a Swarm secret, exported by the secrets-env wrapper before the image's command.
  const statsWrap = lbm.statsPage ? { ...secretsEnvWrapper(spec, b, h, stack), secret: swarmEnvSecret(spec, stack, SECRETS.haproxyStats), command: ['/bin/sh', '-c', lbm.container.start(lb.target)] } : undefined;
  stack.services[kind] = {
    image: lbm.image,
    ...(statsWrap ? { entrypoint: [...statsWrap.entrypoint, ...statsWrap.command.slice(0, 1)], command: statsWrap.command.slice(1) } : {}),
    // HAProxy starts as root to bind 80/443 and read the key, then drops to haproxy (config global).
    ...(lbm.containerUser ? { user: lbm.containerUser } : {}),
    ports,
    configs: [{ source: cfg, target: lb.target }, ...(statsWrap ? [statsWrap.config] : [])],
    ...(tlsSecrets.length || statsWrap ? { secrets: [...tlsSecrets, ...(statsWrap ? [statsWrap.secret] : [])] } : {}),
    ...(Object.keys(lbm.containerVolumes).length ? { volumes: Object.entries(lbm.containerVolumes).map(([v, at]) => `${v}:${at}`) } : {}),
    networks: ['edge'],
    deploy: {
      // mode host publishing keeps the client address; one LB per lb-labelled node.
      mode: 'global',
      placement: { constraints: ['node.labels.lb == true'] },
      update_config: { parallelism: 1, delay: '5s', order: 'stop-first', failure_action: 'rollback' },
      restart_policy: { condition: 'any', delay: '2s' },
    },
  };
  for (const v of Object.keys(lbm.containerVolumes)) stack.volumes[v] = {};
  stack.labels.push({ label: 'lb=true', what: `runs the ${kind} load balancer (publishes the HTTP ports)` });
  // The floating address on the lb nodes (loadBalancer.floatingAddress): keepalived in the host's network.
  const vrrp = keepalivedSwarm(spec, ctx, b, (key, text) => configName(spec, key, text), swarmSecret);
  if (vrrp) {
    stack.services.keepalived = vrrp.service;
    Object.assign(stack.configs, vrrp.configs);
  }

  // Monitoring (monitoring.enabled): Prometheus and Alertmanager twice, the exporters beside what they watch.
  const monitoring = renderMonitoringSwarm(spec, ctx, b, stack);

  // The bundle's CA and certificates (Patroni) as Swarm secrets, each key readable by its service's uid only.
  if (db.pki) wireSwarmPki(spec, stack, db.pki, o.pkiRel ?? './pki');

  if (o.region) {
    for (const svc of Object.values(stack.services) as Array<{ deploy?: { placement?: { constraints?: string[] } } }>) {
      svc.deploy ??= {};
      svc.deploy.placement ??= {};
      svc.deploy.placement.constraints = [...(svc.deploy.placement.constraints ?? []), `node.labels.region == ${o.region}`];
    }
    stack.labels.push({ label: `region=${o.region}`, what: `is in region ${o.region} (every node of this region)` });
  }

  const doc = {
    version: '3.8',
    services: stack.services,
    networks: { ...SWARM_NETWORKS, ...(monitoring ? { monitoring: MONITORING_NETWORK } : {}), ...(vrrp ? { hostnet: { external: true, name: 'host' } } : {}) },
    volumes: stack.volumes,
    ...(Object.keys(stack.secrets).length ? { secrets: stack.secrets } : {}),
    configs: stack.configs,
  };
  b.add('stack.yml', toYaml(doc, ctx, `Deploy: ./deploy.sh (docker stack deploy -c stack.yml ${spec.name})`), { checks: [{ tool: 'stack' }, { tool: 'yaml' }] });
  b.add(
    'deploy.sh',
    renderTemplate(deploySource, {
      header: h.trimEnd(),
      name: spec.name,
      labels: stack.labels,
      secrets: Object.entries(stack.secretEnv).map(([key, env]) => ({ name: (stack.secrets[key] as { name: string }).name, env })),
      replicas: spec.app.replicas,
      checkManagers: spec.tier !== 'single-server',
      // single database: backups are an override file of their own, deployed by `up --backups`
      backup: backupOverride(spec) ?? false,
      envRel: o.envRel ?? '.env',
      envLoader: envLoaderShell('deploy.sh', b.secretNames()),
    }),
    { mode: 0o755, checks: [{ tool: 'shell' }] },
  );
  return stack;
}
