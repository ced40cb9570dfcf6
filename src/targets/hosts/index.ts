import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import deploySource from '../../../templates/hosts/deploy.sh.hbs?raw';
import { lbModel } from '../lb-model.js';
import { renderNginx } from '../nginx/index.js';
import { renderHaproxy } from '../haproxy/index.js';
import { renderCaddy } from '../caddy/index.js';
import { renderUnit, envFilePath } from '../systemd/index.js';
import { LB_PATHS, lbUnit } from '../lb-units.js';
import { SECRETS } from '../secrets.js';
import { addService, hostFile, newHostsPlan, topology, type HostsPlan } from './plan.js';
import { renderDatabaseHosts, appDatabaseUrl } from '../postgres/hosts.js';

export const appUnitName = (spec: Spec) => `${spec.name}-app`;
export const uploadsDir = (spec: Spec) => `/srv/${spec.name}/uploads`;

/** Platform hosts: every host's folder mirrors its /, one systemd unit per service, one deploy.sh. */
export function renderHosts(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  const t = topology(spec);
  const plan = newHostsPlan(spec);
  const h = header(ctx);
  b.resolveNames(...spec.hosts.map((x) => x.address).filter((a) => !/^[0-9.]+$/.test(a)));

  // 1. load balancers
  const kind = spec.loadBalancer.kind;
  const upstreams = { kind: 'static' as const, servers: t.app.map((a) => ({ name: a.name, host: a.address, port: spec.app.port })) };
  for (const lb of t.lb) {
    const model = lbModel(spec, upstreams, LB_PATHS[kind].dir);
    const cfgPath = hostFile(lb, LB_PATHS[kind].config);
    if (kind === 'nginx') b.add(cfgPath, renderNginx(model, h), { checks: [{ tool: 'nginx' }] });
    if (kind === 'haproxy') b.add(cfgPath, renderHaproxy(model, h, { statsBind: lb.address }), { checks: [{ tool: 'haproxy' }] });
    if (kind === 'caddy') b.add(cfgPath, renderCaddy(model, h), { checks: [{ tool: 'caddy' }] });
    b.add(hostFile(lb, `/etc/systemd/system/${kind}.service`), renderUnit(lbUnit(spec, kind), ctx), { checks: [{ tool: 'systemd' }] });
    if (kind === 'haproxy') b.secret(SECRETS.haproxyStats);
    addService(plan, lb, {
      unit: kind,
      order: 60,
      packages: [kind],
      ...(kind === 'haproxy' ? { envFile: { path: envFilePath(spec.name, 'haproxy'), entries: [{ name: SECRETS.haproxyStats.name, value: `$${SECRETS.haproxyStats.name}` }] } } : {}),
    });
  }

  // 2. database (and its endpoint for the app)
  renderDatabaseHosts(spec, ctx, b, plan);

  // 3. app instances: the app ships as a container image, so its unit runs it with Docker
  b.secret(SECRETS.jwt).secret(SECRETS.appDb);
  const appUnit = appUnitName(spec);
  const envPath = envFilePath(spec.name, 'app');
  for (const app of t.app) {
    const dockerArgs = [
      '/usr/bin/docker run --rm',
      `--name ${appUnit}`,
      `--env-file ${envPath}`,
      `-p ${app.address}:${spec.app.port}:${spec.app.port}`,
      `-v ${uploadsDir(spec)}:${spec.app.uploadsPath}`,
      `-v /var/lib/${spec.name}/data:${spec.app.dataPath}`,
      `--stop-timeout ${spec.app.stopGracePeriod}`,
      '--security-opt no-new-privileges:true',
      spec.app.image,
    ];
    const unit = {
      Unit: [
        ['Description', `${spec.name} app instance (ha-gen)`],
        ['After', 'network-online.target docker.service'],
        ['Requires', 'docker.service'],
      ] as Array<[string, string]>,
      Service: [
        ['Type', 'exec'],
        ['EnvironmentFile', envPath],
        ['ExecStartPre', `-/usr/bin/docker rm -f ${appUnit}`],
        ['ExecStartPre', `/usr/bin/docker pull ${spec.app.image}`],
        ['ExecStart', dockerArgs.join(' ')],
        ['ExecStop', `/usr/bin/docker stop -t ${spec.app.stopGracePeriod} ${appUnit}`],
        ['TimeoutStopSec', spec.app.stopGracePeriod + 10],
        ['Restart', 'always'],
        ['RestartSec', '2s'],
      ] as Array<[string, string | number]>,
      Install: [['WantedBy', 'multi-user.target']] as Array<[string, string]>,
    };
    b.add(hostFile(app, `/etc/systemd/system/${appUnit}.service`), renderUnit(unit, ctx), { checks: [{ tool: 'systemd' }] });
    addService(plan, app, {
      unit: appUnit,
      order: 50,
      packages: ['docker.io'],
      envFile: {
        path: envPath,
        entries: [
          { name: 'DATABASE_URL', value: appDatabaseUrl(spec) },
          { name: SECRETS.jwt.name, value: `$${SECRETS.jwt.name}` },
          { name: 'PORT', value: String(spec.app.port) },
          ...Object.entries(spec.app.env).map(([name, value]) => ({ name, value })),
        ],
      },
    });
  }

  // 4. deploy.sh from the plan
  renderDeployScript(spec, ctx, b, plan);
}

function renderDeployScript(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan): void {
  const hosts = spec.hosts.map((host) => {
    const services = [...(plan.services.get(host.name) ?? [])].sort((a, b) => a.order - b.order || (a.unit < b.unit ? -1 : 1));
    return {
      name: host.name,
      address: host.address,
      order: Math.min(...services.map((s) => s.order), 99),
      units: services.map((s) => s.unit).join(' '),
      packages: [...new Set(services.flatMap((s) => s.packages ?? []))].sort().join(' '),
      envFiles: services.filter((s) => s.envFile).map((s) => ({ path: s.envFile!.path, entries: s.envFile!.entries })),
      after: services.flatMap((s) => s.after ?? []),
    };
  });
  const ordered = [...hosts].sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : 1));
  b.add('deploy.sh', renderTemplate(deploySource, { header: header(ctx).trimEnd(), name: spec.name, hosts, orderedNames: ordered.map((x) => x.name).join(' ') }), { mode: 0o755, checks: [{ tool: 'shell' }] });
}
