import source from '../../../templates/caddy/Caddyfile.hbs?raw';
import { renderTemplate } from '../../render/templates.js';
import type { Spec } from '../../spec/schema.js';
import { LB_READ_TIMEOUT_S, type LbModel } from '../lb-model.js';
import type { LoadBalancer, LbRenderOptions } from '../lb/types.js';
import { sandbox } from '../systemd/index.js';
import { sizeToBytes } from '../haproxy/index.js';
import { GO_CIPHERS, HSTS, MOZILLA_GUIDELINE } from '../tls-profile.js';

const POLICY: Record<LbModel['policy'], string> = {
  'least-conn': 'least_conn',
  'round-robin': 'round_robin',
  'ip-hash': 'ip_hash',
  random: 'random',
};

/** Caddy's size units are SI/IEC words; ours are k/m/g. */
const caddySize = (s: string) => `${s.slice(0, -1)}${{ k: 'KiB', m: 'MiB', g: 'GiB' }[s.slice(-1)] ?? 'MiB'}`;

/** On hosts the admin API listens on a Unix socket in the unit's RuntimeDirectory (see lb-units.ts). */
export const CADDY_ADMIN_SOCKET = '/run/caddy/admin.sock';

export function renderCaddy(m: LbModel, header: string, o: Partial<LbRenderOptions> = {}): string {
  const container = m.platform !== 'hosts';
  // Caddy serves HTTPS automatically for a domain site address; http:// keeps it plain.
  const host = m.domain ?? '';
  const siteAddress =
    m.tls === 'acme'
      ? `${host}${m.httpsPort === 443 ? '' : `:${m.httpsPort}`}`
      : m.tls === 'files'
        ? `https://${host}:${m.httpsPort}`
        : `http://${host}:${m.httpPort}`;
  return renderTemplate(source, {
    header: header.trimEnd(),
    readTimeout: `${LB_READ_TIMEOUT_S}s`,
    // Caddy (2.6) retries only while the request is younger than lb_try_duration: a read's tries
    // must fit two response timeouts; a write is retried only when no connection was made.
    proxies: [
      { read: true, tryDuration: `${2 * LB_READ_TIMEOUT_S + 1}s` },
      { read: false, tryDuration: '3s' },
    ],
    configDir: m.configDir,
    acmeEmail: m.tls === 'acme' ? m.acmeEmail : undefined,
    noAutoHttps: m.tls === 'none',
    siteAddress,
    tls: m.tls !== 'none',
    tlsFiles: m.tls === 'files',
    acme: m.tls === 'acme',
    certFile: m.certFile,
    keyFile: m.keyFile,
    tlsGuideline: MOZILLA_GUIDELINE,
    goCiphers: GO_CIPHERS.join(' '),
    hsts: HSTS,
    logOutput: container ? 'stdout' : 'file /var/log/caddy/access.log',
    upstreamLogOutput: container ? 'stdout' : 'file /var/log/caddy/upstream.log',
    adminSocket: container ? undefined : CADDY_ADMIN_SOCKET,
    lbHealthPath: m.lbHealthPath,
    maxBodyCaddy: caddySize(m.maxBodySize),
    maxBodyBytes: sizeToBytes(m.maxBodySize),
    dns: m.upstreams.kind === 'dns',
    dnsName: m.upstreams.kind === 'dns' ? m.upstreams.name : '',
    resolver: '127.0.0.11',
    appPort: m.appPort,
    upstreamList: m.upstreams.kind === 'static' ? m.upstreams.servers.map((s) => `${s.host}:${s.port}`).join(' ') : '',
    policy: POLICY[m.policy],
    healthPath: m.healthPath,
    metricsBind: o.metrics?.bind,
    metricsPort: o.metrics?.port,
  });
}

const CONFIG = '/etc/caddy/Caddyfile';

export const caddy: LoadBalancer = {
  kind: 'caddy',
  summary: 'Automatic HTTPS with the simplest config; active health checks',
  image: 'caddy:2.8',
  packages: ['caddy'],
  statsPage: false,
  containerVolumes: { 'caddy-data': '/data', 'caddy-config': '/config' },
  // Caddy obtains and renews its certificates itself.
  tlsHelper: null,
  hosts: { config: CONFIG, dir: '/etc/caddy' },
  container: {
    file: 'caddy/Caddyfile',
    mount: '/etc/caddy/Caddyfile',
    dir: '/etc/caddy',
    start: (f) => `exec caddy run --config ${f} --adapter caddyfile`,
    // Through the admin API on the container's localhost:2019; Caddy swaps configs without dropping connections.
    reload: (f) => `caddy reload --config ${f} --adapter caddyfile --force`,
    test: (f) => `caddy validate --config ${f} --adapter caddyfile`,
  },
  render: (m, header, o) => renderCaddy(m, header, o),
  testCommand: '/usr/bin/caddy validate --adapter caddyfile --config $config.next',
  unit: (spec: Spec) => ({
    Unit: [['Description', `caddy load balancer for ${spec.name} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
    Service: [
      ['Type', 'notify'],
      ['User', 'caddy'],
      ['Group', 'caddy'],
      // Holds the admin API socket (admin unix//run/caddy/admin.sock in the Caddyfile).
      ['RuntimeDirectory', 'caddy'],
      ['ExecStart', `/usr/bin/caddy run --environ --config ${CONFIG} --adapter caddyfile`],
      ['ExecReload', `/usr/bin/caddy reload --config ${CONFIG} --adapter caddyfile --force`],
      ['TimeoutStopSec', '5s'],
      ['LimitNOFILE', 1048576],
      ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
      ['Restart', 'always'],
      ['RestartSec', '1s'],
      // Runs as caddy; its certificates and autosaved config live in its home, /var/lib/caddy.
      ...sandbox({ system: 'strict', caps: ['CAP_NET_BIND_SERVICE'], writable: ['/var/lib/caddy', '-/var/log/caddy'], home: 'yes' }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  }),
};
