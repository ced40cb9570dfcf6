/** Load balancers on platform hosts: Debian's binaries under systemd, configs at Debian's paths. */
import type { Host, LbKind, Spec } from '../spec/schema.js';
import { header, type RenderContext, type Upstreams } from '../render/context.js';
import type { BundleBuilder } from '../render/bundle.js';
import { envFilePath, renderUnit } from './systemd/index.js';
import { lbModel } from './lb-model.js';
import { LOAD_BALANCERS } from './lb/index.js';
import { SECRETS } from './secrets.js';
import { acmeUnitName, acmeUnits, needsTlsScript, renderTlsScript, tlsScriptPath } from './tls.js';
import { addSteps, hostFile, type HostsPlan } from './hosts/plan.js';
import { bindOf, deploymentOf } from '../model/index.js';
import { LB_METRICS_PORT } from '../model/monitoring.js';

/** Debian's config paths of each load balancer (from its module). */
export const LB_PATHS = Object.fromEntries(Object.values(LOAD_BALANCERS).map((l) => [l.kind, l.hosts])) as Record<LbKind, { config: string; dir: string }>;

/** Where the LB's stats page listens on an lb host, as the model says (no page: localhost, unused). */
export const lbStatsBind = (spec: Spec, lb: Host) => (LOAD_BALANCERS[spec.loadBalancer.kind].statsPage ? bindOf(deploymentOf(spec), lb.name, 'lb', spec.loadBalancer.statsPort) : '127.0.0.1');

/** The metrics listener of the LB on an lb host, as the model says (monitoring on), for the blue and the green config alike. */
export function lbHostMetrics(spec: Spec, lb: Host): { bind: string; port: number } | undefined {
  const p = deploymentOf(spec).hosts.find((x) => x.name === lb.name)?.services.find((s) => s.id === 'lb')?.ports.find((x) => x.port === LB_METRICS_PORT);
  return p ? { bind: p.bind, port: p.port } : undefined;
}

/** The unit of each load balancer: ExecStart runs Debian's binary in the foreground. */
export const lbUnit = (spec: Spec, kind: LbKind) => LOAD_BALANCERS[kind].unit(spec);

/**
 * Everything one `lb` host runs: the LB config and unit, and for nginx/HAProxy TLS the helper script
 * plus (acme) certbot's renewal service and timer. Adds the services to the deploy plan.
 */
export function renderLbHost(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan, lb: Host, upstreams: Upstreams): void {
  const kind = spec.loadBalancer.kind;
  const h = header(ctx);
  const model = lbModel(spec, upstreams, LB_PATHS[kind].dir);
  const lbm = LOAD_BALANCERS[kind];
  const statsBind = lbStatsBind(spec, lb);
  const metrics = lbHostMetrics(spec, lb);
  b.add(hostFile(lb, lbm.hosts.config), lbm.render(model, h, { statsBind, ...(metrics ? { metrics } : {}) }), { checks: [{ tool: kind }] });
  b.add(hostFile(lb, `/etc/systemd/system/${kind}.service`), renderUnit(lbUnit(spec, kind), ctx), { checks: [{ tool: 'systemd' }] });
  if (lbm.statsPage) b.secret(SECRETS.haproxyStats);
  if (lbm.statsPage) addSteps(plan, lb, 'lb', { envFile: { path: envFilePath(spec.name, 'haproxy'), entries: [{ name: SECRETS.haproxyStats.name, value: `$${SECRETS.haproxyStats.name}` }] } });
  if (!needsTlsScript(spec)) return;
  b.add(hostFile(lb, tlsScriptPath(spec.name)), renderTlsScript(spec, h, { reload: `systemctl reload ${kind}` }), { mode: 0o755, checks: [{ tool: 'shell' }] });
  if (spec.loadBalancer.tls !== 'acme') return;
  const acme = acmeUnitName(spec.name);
  const units = acmeUnits(spec);
  b.add(hostFile(lb, `/etc/systemd/system/${acme}.service`), renderUnit(units.service, ctx), { checks: [{ tool: 'systemd' }] });
  b.add(hostFile(lb, `/etc/systemd/system/${acme}.timer`), renderUnit(units.timer, ctx), { checks: [{ tool: 'systemd' }] });
  addSteps(plan, lb, 'acme', {
    // The first certificate right away; if DNS does not point here yet, the timer tries again.
    after: [`systemctl start ${acme}.service || echo 'no certificate yet for ${spec.domain} (does its DNS point at this host?); ${acme}.timer retries twice a day, see journalctl -u ${acme}'`],
  });
}
