import type { Spec } from '../../spec/schema.js';
import { header, type Endpoint, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { toYaml } from '../../render/yaml.js';
import { lbModel } from '../lb-model.js';
import { renderNginx } from '../nginx/index.js';
import { renderHaproxy } from '../haproxy/index.js';
import { renderCaddy } from '../caddy/index.js';
import { addAppRoleInit, renderPostgresConf } from '../postgres/index.js';
import { composeVar, SECRETS } from '../secrets.js';

/** Images the bundle pins by major version; upgrade deliberately, not through `latest`. */
export const IMAGES = {
  nginx: 'nginx:1.27',
  haproxy: 'haproxy:2.8',
  caddy: 'caddy:2.8',
  postgres: (v: number) => `postgres:${v}`,
} as const;

const LB_CONFIG: Record<Spec['loadBalancer']['kind'], { file: string; mount: string; dir: string }> = {
  nginx: { file: 'nginx/nginx.conf', mount: '/etc/nginx/nginx.conf', dir: '/etc/nginx' },
  haproxy: { file: 'haproxy/haproxy.cfg', mount: '/usr/local/etc/haproxy/haproxy.cfg', dir: '/usr/local/etc/haproxy' },
  caddy: { file: 'caddy/Caddyfile', mount: '/etc/caddy/Caddyfile', dir: '/etc/caddy' },
};

export const pgDataPath = (version: number) => (version >= 18 ? '/var/lib/postgresql' : '/var/lib/postgresql/data');

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
  const lbKind = spec.loadBalancer.kind;
  const lbConf = LB_CONFIG[lbKind];
  const model = lbModel(spec, { kind: 'static', servers: apps }, lbConf.dir);
  const h = header(ctx);

  b.secret(SECRETS.jwt).secret(SECRETS.pgSuper).secret(SECRETS.appDb);
  b.resolveNames(...apps.map((a) => a.host), 'db');

  if (lbKind === 'nginx') b.add(lbConf.file, renderNginx(model, h), { checks: [{ tool: 'nginx' }] });
  if (lbKind === 'haproxy') {
    b.secret(SECRETS.haproxyStats);
    b.add(lbConf.file, renderHaproxy(model, h, { statsBind: '0.0.0.0' }), { checks: [{ tool: 'haproxy' }] });
  }
  if (lbKind === 'caddy') b.add(lbConf.file, renderCaddy(model, h), { checks: [{ tool: 'caddy' }] });

  b.add('postgres/postgresql.conf', renderPostgresConf(spec, ctx, { role: 'single', listen: '*', archive: false }), { checks: [{ tool: 'pg-conf' }] });
  addAppRoleInit(b, spec, ctx, 'postgres/init');

  const healthcheck = appHealthcheck(spec);
  const services: Record<string, unknown> = {};
  for (const app of apps) {
    services[app.name] = {
      image: spec.app.image,
      restart: 'unless-stopped',
      environment: appEnvironment(spec, 'db', spec.database.port),
      volumes: [`uploads:${spec.app.uploadsPath}`, `${app.name}-data:${spec.app.dataPath}`],
      ...(healthcheck ? { healthcheck } : {}),
      // In-flight requests finish: the load balancer stops sending first, then the instance gets this long.
      stop_grace_period: `${spec.app.stopGracePeriod}s`,
      depends_on: { db: { condition: 'service_healthy' } },
      networks: ['edge', 'data'],
      security_opt: ['no-new-privileges:true'],
    };
  }
  const pgVersion = spec.database.version;
  services.db = {
    image: IMAGES.postgres(pgVersion),
    restart: 'unless-stopped',
    command: ['postgres', '-c', 'config_file=/etc/postgresql/postgresql.conf'],
    environment: {
      POSTGRES_PASSWORD: composeVar(SECRETS.pgSuper.name),
      APP_DB_PASSWORD: composeVar(SECRETS.appDb.name),
      POSTGRES_INITDB_ARGS: '--auth-host=scram-sha-256 --data-checksums',
    },
    volumes: [
      `pgdata:${pgDataPath(pgVersion)}`,
      './postgres/postgresql.conf:/etc/postgresql/postgresql.conf:ro',
      './postgres/init:/docker-entrypoint-initdb.d:ro',
    ],
    healthcheck: { test: ['CMD-SHELL', 'pg_isready -U postgres -d postgres'], interval: '5s', timeout: '3s', retries: 5, start_period: '30s' },
    shm_size: '256m',
    stop_grace_period: '60s',
    // Not published on the host: only the app reaches it, over the internal data network.
    networks: ['data'],
    security_opt: ['no-new-privileges:true'],
  };
  const lbImage = IMAGES[lbKind];
  const ports = [`${spec.loadBalancer.httpPort}:${spec.loadBalancer.httpPort}`];
  if (spec.loadBalancer.tls !== 'none') ports.push(`${spec.loadBalancer.httpsPort}:${spec.loadBalancer.httpsPort}`);
  if (lbKind === 'haproxy') ports.push(`127.0.0.1:${spec.loadBalancer.statsPort}:${spec.loadBalancer.statsPort}`);
  const lbVolumes = [`./${lbConf.file}:${lbConf.mount}:ro`];
  if (spec.loadBalancer.tls === 'files') {
    lbVolumes.push(`${spec.loadBalancer.certFile}:${spec.loadBalancer.certFile}:ro`, `${spec.loadBalancer.keyFile}:${spec.loadBalancer.keyFile}:ro`);
  }
  if (lbKind === 'caddy') lbVolumes.push('caddy-data:/data', 'caddy-config:/config');
  services[lbKind] = {
    image: lbImage,
    restart: 'unless-stopped',
    ports,
    volumes: lbVolumes,
    ...(lbKind === 'haproxy' ? { environment: { HAPROXY_STATS_PASSWORD: composeVar(SECRETS.haproxyStats.name) } } : {}),
    // nginx resolves instance names once at start: the containers must exist (not be healthy).
    depends_on: Object.fromEntries(apps.map((a) => [a.name, { condition: 'service_started' }])),
    networks: ['edge'],
    security_opt: ['no-new-privileges:true'],
  };

  const volumes: Record<string, unknown> = { uploads: {}, pgdata: {} };
  for (const app of apps) volumes[`${app.name}-data`] = {};
  if (lbKind === 'caddy') Object.assign(volumes, { 'caddy-data': {}, 'caddy-config': {} });

  const compose = {
    version: '3.8',
    services,
    networks: { edge: {}, data: { internal: true } },
    volumes,
  };
  b.add('docker-compose.yml', toYaml(compose, ctx, 'Start: docker compose up -d   (reads .env in this folder)'), { checks: [{ tool: 'compose' }, { tool: 'yaml' }] });
}
