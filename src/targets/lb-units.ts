/** Load balancers on platform hosts: Debian's binaries under systemd, configs at Debian's paths. */
import type { Host, Spec } from '../spec/schema.js';
import { header, type RenderContext, type Upstreams } from '../render/context.js';
import type { BundleBuilder } from '../render/bundle.js';
import { envFilePath, renderUnit } from './systemd/index.js';
import { lbModel } from './lb-model.js';
import { renderNginx } from './nginx/index.js';
import { renderHaproxy } from './haproxy/index.js';
import { renderCaddy } from './caddy/index.js';
import { SECRETS } from './secrets.js';
import { acmeUnitName, acmeUnits, needsTlsScript, renderTlsScript, tlsScriptPath } from './tls.js';
import { addSteps, hostFile, type HostsPlan } from './hosts/plan.js';
import { bindOf, deploymentOf } from '../model/index.js';

export const LB_PATHS = {
  nginx: { config: '/etc/nginx/nginx.conf', dir: '/etc/nginx' },
  haproxy: { config: '/etc/haproxy/haproxy.cfg', dir: '/etc/haproxy' },
  caddy: { config: '/etc/caddy/Caddyfile', dir: '/etc/caddy' },
} as const;

/** The unit of each load balancer: ExecStart runs Debian's binary in the foreground. */
export function lbUnit(spec: Spec, kind: Spec['loadBalancer']['kind']) {
  const cfg = LB_PATHS[kind].config;
  const desc = `${kind} load balancer for ${spec.name} (ha-gen)`;
  const common = { Unit: [['Description', desc], ['After', 'network-online.target'], ['Wants', 'network-online.target']] as Array<[string, string]> };
  const tls = spec.loadBalancer.tls;
  const script = tlsScriptPath(spec.name);
  // acme: a self-signed placeholder lets the LB start before certbot has the first certificate.
  const placeholder: Array<[string, string]> = tls === 'acme' && kind !== 'caddy' ? [['ExecStartPre', `${script} placeholder`]] : [];
  if (kind === 'nginx') {
    return {
      ...common,
      Service: [
        ['Type', 'exec'],
        ...placeholder,
        ['ExecStartPre', `/usr/sbin/nginx -t -q -c ${cfg}`],
        ['ExecStart', `/usr/sbin/nginx -c ${cfg} -g 'daemon off;'`],
        ['ExecReload', `/usr/sbin/nginx -t -q -c ${cfg}`],
        ['ExecReload', '/bin/kill -HUP $MAINPID'],
        // SIGQUIT: finish in-flight requests, then exit.
        ['KillSignal', 'SIGQUIT'],
        ['TimeoutStopSec', spec.app.stopGracePeriod + 5],
        ['Restart', 'always'],
        ['RestartSec', '1s'],
      ] as Array<[string, string | number]>,
      Install: [['WantedBy', 'multi-user.target']] as Array<[string, string]>,
    };
  }
  if (kind === 'haproxy') {
    // tls: files: the spec's certificate and key become the one PEM HAProxy reads, at start and reload.
    const combine: Array<[string, string]> = tls === 'files' ? [['ExecStartPre', `${script} combine`]] : [];
    return {
      ...common,
      Service: [
        ['Type', 'notify'],
        ['EnvironmentFile', envFilePath(spec.name, 'haproxy')],
        ['RuntimeDirectory', 'haproxy'],
        ...placeholder,
        ...combine,
        ['ExecStartPre', `/usr/sbin/haproxy -c -q -f ${cfg}`],
        ['ExecStart', `/usr/sbin/haproxy -Ws -f ${cfg} -p /run/haproxy.pid`],
        ...(tls === 'files' ? ([['ExecReload', `${script} combine`]] as Array<[string, string]>) : []),
        ['ExecReload', `/usr/sbin/haproxy -c -q -f ${cfg}`],
        ['ExecReload', '/bin/kill -USR2 $MAINPID'],
        ['KillMode', 'mixed'],
        ['Restart', 'always'],
        ['RestartSec', '1s'],
      ] as Array<[string, string | number]>,
      Install: [['WantedBy', 'multi-user.target']] as Array<[string, string]>,
    };
  }
  return {
    ...common,
    Service: [
      ['Type', 'notify'],
      ['User', 'caddy'],
      ['Group', 'caddy'],
      // Holds the admin API socket (admin unix//run/caddy/admin.sock in the Caddyfile).
      ['RuntimeDirectory', 'caddy'],
      ['ExecStart', `/usr/bin/caddy run --environ --config ${cfg} --adapter caddyfile`],
      ['ExecReload', `/usr/bin/caddy reload --config ${cfg} --adapter caddyfile --force`],
      ['TimeoutStopSec', '5s'],
      ['LimitNOFILE', 1048576],
      ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
      ['Restart', 'always'],
      ['RestartSec', '1s'],
    ] as Array<[string, string | number]>,
    Install: [['WantedBy', 'multi-user.target']] as Array<[string, string]>,
  };
}

/**
 * Everything one `lb` host runs: the LB config and unit, and for nginx/HAProxy TLS the helper script
 * plus (acme) certbot's renewal service and timer. Adds the services to the deploy plan.
 */
export function renderLbHost(spec: Spec, ctx: RenderContext, b: BundleBuilder, plan: HostsPlan, lb: Host, upstreams: Upstreams): void {
  const kind = spec.loadBalancer.kind;
  const h = header(ctx);
  const model = lbModel(spec, upstreams, LB_PATHS[kind].dir);
  const cfgPath = hostFile(lb, LB_PATHS[kind].config);
  if (kind === 'nginx') b.add(cfgPath, renderNginx(model, h), { checks: [{ tool: 'nginx' }] });
  if (kind === 'haproxy') b.add(cfgPath, renderHaproxy(model, h, { statsBind: bindOf(deploymentOf(spec), lb.name, 'lb', spec.loadBalancer.statsPort) }), { checks: [{ tool: 'haproxy' }] });
  if (kind === 'caddy') b.add(cfgPath, renderCaddy(model, h), { checks: [{ tool: 'caddy' }] });
  b.add(hostFile(lb, `/etc/systemd/system/${kind}.service`), renderUnit(lbUnit(spec, kind), ctx), { checks: [{ tool: 'systemd' }] });
  if (kind === 'haproxy') b.secret(SECRETS.haproxyStats);
  if (kind === 'haproxy') addSteps(plan, lb, 'lb', { envFile: { path: envFilePath(spec.name, 'haproxy'), entries: [{ name: SECRETS.haproxyStats.name, value: `$${SECRETS.haproxyStats.name}` }] } });
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
