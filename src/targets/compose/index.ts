import type { Spec } from '../../spec/schema.js';
import { header, type Endpoint, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { toYaml } from '../../render/yaml.js';
import { lbModel } from '../lb-model.js';
import { LOAD_BALANCERS, composeBlueGreen, loadBalancerOf } from '../lb/index.js';
import { renderDatabaseCompose } from '../postgres/compose.js';
import { composeVar, SECRETS } from '../secrets.js';
import { containerTls } from '../tls.js';
import { renderContainerStorage } from '../storage/index.js';
import { renderComposeDeploy } from '../deploy/index.js';
import { containerLbMetrics, renderMonitoringCompose } from '../monitoring/containers.js';
import { wireComposePki } from '../pki-containers.js';
import type { LbRenderOptions } from '../lb/types.js';

/** Images the bundle pins by major version; upgrade deliberately, not through `latest`. */
export const IMAGES = {
  ...(Object.fromEntries(Object.values(LOAD_BALANCERS).map((l) => [l.kind, l.image])) as Record<Spec['loadBalancer']['kind'], string>),
  postgres: pgImage,
};

export { pgImageData as pgDataPath } from '../../model/constants.js';
import { pgImage } from '../../model/constants.js';

export function appInstances(spec: Spec): Endpoint[] {
  return Array.from({ length: spec.app.replicas }, (_, i) => ({ name: `app${i + 1}`, host: `app${i + 1}`, port: spec.app.port }));
}

export function appHealthcheck(spec: Spec): Record<string, unknown> | undefined {
  const url = `http://127.0.0.1:${spec.app.port}${spec.app.healthPath}`;
  const test = { curl: ['CMD', 'curl', '-fsS', '-o', '/dev/null', url], wget: ['CMD', 'wget', '-q', '-O', '/dev/null', url], none: undefined }[spec.app.healthcheckTool];
  return test ? { test, interval: '5s', timeout: '2s', retries: 3, start_period: '30s' } : undefined;
}

export function appEnvironment(spec: Spec, dbHost: string, dbPort: number): Record<string, string> {
  const d = spec.database;
  return {
    // Same DATABASE_URL and JWT_SECRET on every instance: tokens signed by one are valid on all.
    DATABASE_URL: `postgres://${d.user}:${composeVar(SECRETS.appDb.name)}@${dbHost}:${dbPort}/${d.name}`,
    JWT_SECRET: composeVar(SECRETS.jwt.name),
    PORT: String(spec.app.port),
    ...spec.app.env,
  };
}

/** Platform compose: one Docker host running every service (tier single-server). */
export function renderCompose(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  const apps = appInstances(spec);
  const lb = loadBalancerOf(spec);
  const lbKind = lb.kind;
  const lbConf = lb.container;
  const model = lbModel(spec, { kind: 'static', servers: apps }, lbConf.dir);
  const h = header(ctx);

  b.secret(SECRETS.jwt).secret(SECRETS.pgSuper).secret(SECRETS.appDb);
  b.resolveNames(...apps.map((a) => a.host), 'db');

  if (lb.statsPage) b.secret(SECRETS.haproxyStats);
  // Inside its container the stats page listens everywhere; compose publishes it on 127.0.0.1 only.
  const metrics = containerLbMetrics(spec);
  // One set of options for the blue config and blue-green's green one: a switch keeps ACME's HTTP-01
  // route to certbot and the metrics listener.
  const lbOptions: LbRenderOptions = { statsBind: '0.0.0.0', certbotAddress: 'certbot:8888', ...(metrics ? { metrics } : {}) };
  b.add(lbConf.file, lb.render(model, h, lbOptions), { checks: [{ tool: lbKind }] });

  // Database services (none / streaming / Patroni) and the endpoint the app connects to.
  const db = renderDatabaseCompose(spec, ctx, b);

  const healthcheck = appHealthcheck(spec);
  const services: Record<string, unknown> = {};
  const storage = renderContainerStorage(spec, ctx, b, { platform: 'compose', networks: ['data'], secretVar: composeVar });
  // Blue-green: green1..N start only with --profile green (deploy/blue-green.sh).
  const green = apps.map((a, i) => ({ ...a, name: `green${i + 1}`, host: `green${i + 1}` }));
  b.resolveNames(...green.map((g) => g.host));
  for (const app of [...apps, ...green]) {
    const isGreen = app.name.startsWith('green');
    services[app.name] = {
      // deploy/rolling-update.sh sets APP_IMAGE (APP_IMAGE_GREEN for blue-green) to roll out another image.
      image: `\${${isGreen ? 'APP_IMAGE_GREEN' : 'APP_IMAGE'}:-${spec.app.image}}`,
      ...(isGreen ? { profiles: ['green'] } : {}),
      restart: 'unless-stopped',
      environment: { ...appEnvironment(spec, db.host, db.port), ...storage.appEnv },
      volumes: [...(storage.appVolume ? [storage.appVolume] : []), `${app.name}-data:${spec.app.dataPath}`],
      ...(healthcheck ? { healthcheck } : {}),
      // In-flight requests finish: the load balancer stops sending first, then the instance gets this long.
      stop_grace_period: `${spec.app.stopGracePeriod}s`,
      depends_on: db.appDependsOn,
      networks: ['edge', 'data'],
      security_opt: ['no-new-privileges:true'],
    };
  }
  Object.assign(services, db.services);
  const lbImage = lb.image;
  const ports = [`${spec.loadBalancer.httpPort}:${spec.loadBalancer.httpPort}`];
  if (spec.loadBalancer.tls !== 'none') ports.push(`${spec.loadBalancer.httpsPort}:${spec.loadBalancer.httpsPort}`);
  if (lb.statsPage) ports.push(`127.0.0.1:${spec.loadBalancer.statsPort}:${spec.loadBalancer.statsPort}`);
  const lbVolumes = [`./${lbConf.file}:${lbConf.mount}:ro`];
  if (spec.loadBalancer.tls === 'files') {
    lbVolumes.push(`${spec.loadBalancer.certFile}:${spec.loadBalancer.certFile}:ro`, `${spec.loadBalancer.keyFile}:${spec.loadBalancer.keyFile}:ro`);
  }
  lbVolumes.push(...Object.entries(lb.containerVolumes).map(([v, at]) => `${v}:${at}`));
  services[lbKind] = {
    image: lbImage,
    restart: 'unless-stopped',
    ports,
    volumes: lbVolumes,
    ...(lb.statsPage ? { environment: { HAPROXY_STATS_PASSWORD: composeVar(SECRETS.haproxyStats.name) } } : {}),
    // nginx resolves instance names once at start: the containers must exist (not be healthy).
    depends_on: Object.fromEntries(apps.map((a) => [a.name, { condition: 'service_started' }])),
    networks: ['edge'],
    security_opt: ['no-new-privileges:true'],
  };
  // LB TLS (certbot services, HAProxy's one PEM, running HAProxy as root until it drops): targets/tls.ts.
  const bg = composeBlueGreen(lb);
  lbVolumes.push(`./${bg.greenFile}:${bg.greenMount}:ro`);
  const lbTls = containerTls(spec, h, bg.active);
  if (lbTls.script) b.add(lbTls.script.path, lbTls.script.contents, { mode: 0o755, checks: [{ tool: 'shell' }] });
  const lbSvc = services[lbKind] as { user?: string; command?: string[]; volumes: string[]; depends_on: object };
  if (lbTls.lb.user) lbSvc.user = lbTls.lb.user;
  // The color link is made (blue) on the first start only; the LB then runs whatever it points to.
  const link = `[ -e ${bg.active} ] || { mkdir -p ${bg.stateDir} && ln -sfn ${bg.blueMount} ${bg.active}; }`;
  const cmd = lbTls.lb.run ?? lb.container.start(bg.active);
  lbSvc.command = ['/bin/sh', '-c', `${link}; ${cmd}`];
  lbSvc.volumes.push(...lbTls.lb.volumes);
  Object.assign(lbSvc.depends_on, lbTls.lb.dependsOn);
  Object.assign(services, lbTls.services);
  if (lbTls.services.certbot) b.resolveNames('certbot');

  Object.assign(services, storage.services);
  const volumes: Record<string, unknown> = { ...storage.volumes, ...Object.fromEntries(db.volumes.map((v) => [v, {}])) };
  for (const app of [...apps, ...green]) volumes[`${app.name}-data`] = {};
  for (const v of Object.keys(lb.containerVolumes)) volumes[v] = {};
  Object.assign(volumes, lbTls.volumes);

  // Monitoring (monitoring.enabled): Prometheus, Alertmanager and the exporters, on their own network.
  const mon = renderMonitoringCompose(spec, ctx, b, services);
  if (mon) {
    Object.assign(services, mon.services);
    for (const v of mon.volumes) volumes[v] = {};
  }

  // The bundle's CA and certificates (Patroni): each service's own read-only volume, filled by pki-init.
  if (db.pki) for (const v of wireComposePki(spec, ctx, b, services, db.pki.uses, db.pki.image)) volumes[v] = {};

  const compose = {
    version: '3.8',
    services,
    networks: { edge: {}, data: { internal: true }, ...(mon?.networks ?? {}) },
    volumes,
  };
  renderComposeDeploy(spec, ctx, b, lbConf, lbOptions);
  b.add('docker-compose.yml', toYaml(compose, ctx, 'Start: docker compose up -d   (reads .env in this folder)'), { checks: [{ tool: 'compose' }, { tool: 'yaml' }] });
}
