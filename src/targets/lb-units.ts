/** Load balancers on platform hosts: Debian's binaries under systemd, configs at Debian's paths. */
import type { Spec } from '../spec/schema.js';
import { envFilePath } from './systemd/index.js';

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
  if (kind === 'nginx') {
    return {
      ...common,
      Service: [
        ['Type', 'exec'],
        ['ExecStartPre', `/usr/sbin/nginx -t -q -c ${cfg}`],
        ['ExecStart', `/usr/sbin/nginx -c ${cfg} -g 'daemon off;'`],
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
    return {
      ...common,
      Service: [
        ['Type', 'notify'],
        ['EnvironmentFile', envFilePath(spec.name, 'haproxy')],
        ['RuntimeDirectory', 'haproxy'],
        ['ExecStartPre', `/usr/sbin/haproxy -c -q -f ${cfg}`],
        ['ExecStart', `/usr/sbin/haproxy -Ws -f ${cfg} -p /run/haproxy.pid`],
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

