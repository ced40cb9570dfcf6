/**
 * Zero-downtime deployments (the guide's "Zero-Downtime Deployments"): a rolling-update script and a
 * blue-green pair per platform, plus deploy/README.md on database migrations (expand/contract).
 */
import type { Spec } from '../../spec/schema.js';
import { header, type RenderContext } from '../../render/context.js';
import type { BundleBuilder } from '../../render/bundle.js';
import { renderTemplate } from '../../render/templates.js';
import { lbModel } from '../lb-model.js';
import { composeBlueGreen, loadBalancerOf } from '../lb/index.js';
import { lbHostMetrics, lbStatsBind } from '../lb-units.js';
import { renderUnit } from '../systemd/index.js';
import { hostFile, topology } from '../hosts/plan.js';
import { appUnit, appUnitName, greenPort, greenUnitName } from '../app/index.js';
import rollCompose from '../../../templates/deploy/rolling-update-compose.sh.hbs?raw';
import rollSwarm from '../../../templates/deploy/rolling-update-swarm.sh.hbs?raw';
import rollHosts from '../../../templates/deploy/rolling-update-hosts.sh.hbs?raw';
import bgCompose from '../../../templates/deploy/blue-green-compose.sh.hbs?raw';
import bgSwarm from '../../../templates/deploy/blue-green-swarm.sh.hbs?raw';
import bgHosts from '../../../templates/deploy/blue-green-hosts.sh.hbs?raw';
import readme from '../../../templates/deploy/README.md.hbs?raw';

import type { LbRenderOptions } from '../lb/types.js';

const SCRIPT = { mode: 0o755, checks: [{ tool: 'shell' as const }] };
/** Seconds a new instance gets to become healthy (the container healthcheck's start period is 30 s). */
const HEALTH_TIMEOUT = 90;

/** The green config keeps the blue one's metrics listener (monitoring), or a switch would drop it. */
function lbText(spec: Spec, ctx: RenderContext, model: ReturnType<typeof lbModel>, statsBind: string, metrics?: LbRenderOptions['metrics']): string {
  return loadBalancerOf(spec).render(model, header(ctx), { statsBind, ...(metrics ? { metrics } : {}) });
}

function common(spec: Spec, ctx: RenderContext) {
  return { header: header(ctx).trimEnd(), lb: spec.loadBalancer.kind, image: spec.app.image, specFile: ctx.specFile, timeout: HEALTH_TIMEOUT, delay: 5, healthPath: spec.app.healthPath };
}

function addReadme(spec: Spec, ctx: RenderContext, b: BundleBuilder): void {
  b.add('deploy/README.md', renderTemplate(readme, { header: header(ctx, 'md').trimEnd(), platform: spec.platform, lb: spec.loadBalancer.kind, name: spec.name }));
}

/** compose: app1..N replaced one at a time; green1..N under the "green" profile. */
export function renderComposeDeploy(spec: Spec, ctx: RenderContext, b: BundleBuilder, lb: { file: string; mount: string; dir: string }, lbOptions: LbRenderOptions): void {
  const n = spec.app.replicas;
  const blue = Array.from({ length: n }, (_, i) => `app${i + 1}`);
  const green = Array.from({ length: n }, (_, i) => `green${i + 1}`);
  const c = { ...common(spec, ctx), count: n, nginx: spec.loadBalancer.kind === 'nginx', noHealthcheck: spec.app.healthcheckTool === 'none' };
  b.add('deploy/rolling-update.sh', renderTemplate(rollCompose, { ...c, services: blue.join(' ') }), SCRIPT);
  const kind = spec.loadBalancer.kind;
  const model = lbModel(spec, { kind: 'static', servers: green.map((g) => ({ name: g, host: g, port: spec.app.port })) }, lb.dir);
  const bg = composeBlueGreen(loadBalancerOf(spec));
  b.add(bg.greenFile, loadBalancerOf(spec).render(model, header(ctx), lbOptions), { checks: [{ tool: kind }] });
  const ctr = loadBalancerOf(spec).container;
  const colors = {
    active: bg.active,
    blueMount: bg.blueMount,
    greenMount: bg.greenMount,
    testBlue: ctr.test(bg.blueMount),
    testGreen: ctr.test(bg.greenMount),
    reload: ctr.reload(bg.active),
  };
  b.add('deploy/blue-green.sh', renderTemplate(bgCompose, { ...c, ...colors, greenServices: green.join(' ') }), SCRIPT);
  addReadme(spec, ctx, b);
}

/** swarm: service update; green is the app-green service, switched by swapping the LB's config. */
export function renderSwarmDeploy(spec: Spec, ctx: RenderContext, b: BundleBuilder, lb: { file: string; target: string; dir: string }, lbOptions: LbRenderOptions, blueConfig: string, configName: (key: string, text: string) => string): void {
  const c = { ...common(spec, ctx), stack: spec.name, replicas: spec.app.replicas };
  b.add('deploy/rolling-update.sh', renderTemplate(rollSwarm, c), SCRIPT);
  const kind = spec.loadBalancer.kind;
  const model = lbModel(spec, { kind: 'dns', name: 'tasks.app-green', port: spec.app.port, count: spec.app.replicas }, lb.dir);
  const text = loadBalancerOf(spec).render(model, header(ctx), lbOptions);
  const greenFile = `deploy/blue-green/${lb.file.split('/').pop()!.replace(/(\.[a-z]+)?$/, '.green$1')}`;
  b.add(greenFile, text, { checks: [{ tool: kind }] });
  b.add('deploy/blue-green.sh', renderTemplate(bgSwarm, { ...c, blueConfig, greenConfig: configName(`${kind}_conf_green`, text), target: lb.target, greenFile, blueFile: lb.file }), SCRIPT);
  addReadme(spec, ctx, b);
}


/** hosts: one app host at a time, drained first; green is a second unit on the next port. */
export function renderHostsDeploy(spec: Spec, ctx: RenderContext, b: BundleBuilder, mounted: boolean): void {
  const t = topology(spec);
  const kind = spec.loadBalancer.kind;
  const c = {
    ...common(spec, ctx),
    unit: appUnitName(spec),
    greenUnit: greenUnitName(spec),
    port: spec.app.port,
    greenPort: greenPort(spec),
    lbs: t.lb.map((h) => ({ name: h.name, address: h.address })),
    apps: t.app.map((h) => ({ name: h.name, address: h.address })),
    haproxy: kind === 'haproxy',
    nginx: kind === 'nginx',
    grace: spec.app.stopGracePeriod,
    config: loadBalancerOf(spec).hosts.config,
    testCmd: loadBalancerOf(spec).testCommand,
  };
  b.add('deploy/rolling-update.sh', renderTemplate(rollHosts, c), SCRIPT);
  // One template unit for every app host; the instance name is the host's address (`%i`), so
  // 3000 app hosts need one file here, not 3000 folders of one file each.
  const green = renderUnit(appUnit(spec, null, { unit: greenUnitName(spec), hostPort: greenPort(spec), mounted, bind: '%i' }), ctx);
  b.add(`deploy/blue-green/${greenUnitName(spec)}@.service`, green, { checks: [{ tool: 'systemd' }] });
  const upstreams = { kind: 'static' as const, servers: t.app.map((a) => ({ name: a.name, host: a.address, port: greenPort(spec) })) };
  for (const lb of t.lb) {
    const model = lbModel(spec, upstreams, loadBalancerOf(spec).hosts.dir);
    b.add(`deploy/blue-green/${hostFile(lb, loadBalancerOf(spec).hosts.config)}`, lbText(spec, ctx, model, lbStatsBind(spec, lb), lbHostMetrics(spec, lb)), { checks: [{ tool: kind }] });
  }
  b.add('deploy/blue-green.sh', renderTemplate(bgHosts, c), SCRIPT);
  addReadme(spec, ctx, b);
}
