import source from '../../../templates/nginx/nginx.conf.hbs?raw';
import { renderTemplate } from '../../render/templates.js';
import type { Spec } from '../../spec/schema.js';
import type { LbModel } from '../lb-model.js';
import { LB_READ_TIMEOUT_S } from '../lb-model.js';
import type { LoadBalancer, LbRenderOptions } from '../lb/types.js';
import { tlsScriptPath } from '../../model/constants.js';
import { sandbox } from '../systemd/index.js';
import { acmePaths } from '../lb-model.js';
import { HSTS, MOZILLA_GUIDELINE, TLS12_CIPHERS } from '../tls-profile.js';

const POLICY: Record<LbModel['policy'], string | undefined> = {
  'least-conn': 'least_conn',
  'round-robin': undefined,
  'ip-hash': 'ip_hash',
  random: 'random two least_conn',
};

/** nginx.conf for any platform: compose/swarm run the official image, hosts run Debian's nginx. */
export function renderNginx(m: LbModel, header: string, o: Partial<LbRenderOptions> = {}): string {
  const container = m.platform !== 'hosts';
  const servers = m.upstreams.kind === 'static' ? m.upstreams.servers : [];
  return renderTemplate(source, {
    header: header.trimEnd(),
    readTimeout: `${LB_READ_TIMEOUT_S}s`,
    // Reads: proxy_next_upstream_timeout must leave room for tries after a read timeout.
    locations: [
      { name: '/', read: true, readTimeout: `${LB_READ_TIMEOUT_S}s`, nextTimeout: `${2 * LB_READ_TIMEOUT_S + 1}s` },
      { name: '@write', read: false, readTimeout: '60s', nextTimeout: '5s' },
    ],
    configDir: m.configDir,
    user: container ? 'nginx' : 'www-data',
    pidFile: container ? '/var/run/nginx.pid' : '/run/nginx.pid',
    // The official image links /var/log/nginx/access.log to stdout; `stderr` is nginx's own keyword.
    errorLog: container ? 'stderr' : '/var/log/nginx/error.log',
    accessLog: '/var/log/nginx/access.log',
    resolver: container ? '127.0.0.11' : undefined,
    maxBodySize: m.maxBodySize,
    upstreamName: 'app_backend',
    policyDirective: POLICY[m.policy],
    servers,
    // Swarm: tasks.<service> resolves to every task, so each replica is its own upstream server.
    dnsName: m.upstreams.kind === 'dns' ? m.upstreams.name : undefined,
    appPort: m.appPort,
    tls: m.tls !== 'none',
    acme: m.tls === 'acme',
    acmeWebroot: m.domain ? acmePaths(m.domain).webroot : '',
    httpPort: m.httpPort,
    httpsPort: m.httpsPort,
    serverName: m.domain ?? '_',
    certFile: m.certFile,
    keyFile: m.keyFile,
    tlsGuideline: MOZILLA_GUIDELINE,
    tlsCiphers: TLS12_CIPHERS.join(':'),
    hsts: HSTS,
    lbHealthPath: m.lbHealthPath,
    metricsPort: o.metrics?.port,
    metricsBind: o.metrics?.bind,
    metricsAllow: o.metrics?.allowFrom ?? '127.0.0.1',
    metricsLocal: !o.metrics?.allowFrom,
  });
}

const CONFIG = '/etc/nginx/nginx.conf';

export const nginx: LoadBalancer = {
  kind: 'nginx',
  summary: 'Fast and familiar; passive health checks only (open-source nginx)',
  image: 'nginx:1.27',
  packages: ['nginx'],
  statsPage: false,
  containerVolumes: {},
  tlsHelper: {
    singlePem: false,
    webroot: true,
    certDir: (domain) => `/etc/nginx/tls/${domain}`,
    watched: (p) => p.cert,
  },
  hosts: { config: CONFIG, dir: '/etc/nginx' },
  container: {
    file: 'nginx/nginx.conf',
    mount: '/etc/nginx/nginx.conf',
    dir: '/etc/nginx',
    start: (f) => `exec nginx -c ${f} -g 'daemon off;'`,
    // The master (PID 1) rereads its -c file on HUP; old workers finish their requests.
    reload: () => 'kill -HUP 1',
    test: (f) => `nginx -t -q -c ${f}`,
  },
  render: (m, header, o) => renderNginx(m, header, o),
  testCommand: '/usr/sbin/nginx -t -q -c $config.next',
  unit: (spec: Spec) => ({
    Unit: [['Description', `nginx load balancer for ${spec.name} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
    Service: [
      ['Type', 'exec'],
      // acme: a self-signed placeholder lets nginx start before certbot has the first certificate.
      ...(spec.loadBalancer.tls === 'acme' ? ([['ExecStartPre', `${tlsScriptPath(spec.name)} placeholder`]] as Array<[string, string]>) : []),
      ['ExecStartPre', `/usr/sbin/nginx -t -q -c ${CONFIG}`],
      ['ExecStart', `/usr/sbin/nginx -c ${CONFIG} -g 'daemon off;'`],
      ['ExecReload', `/usr/sbin/nginx -t -q -c ${CONFIG}`],
      ['ExecReload', '/bin/kill -HUP $MAINPID'],
      // SIGQUIT: finish in-flight requests, then exit.
      ['KillSignal', 'SIGQUIT'],
      ['TimeoutStopSec', spec.app.stopGracePeriod + 5],
      ['Restart', 'always'],
      ['RestartSec', '1s'],
      ...sandbox({
        system: 'full',
        // The master binds the ports as root and runs its workers as www-data; it owns their temp folders.
        caps: ['CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE'],
        wx: false,
        why: ['Sandbox: W^X stays off (nginx compiles its regular expressions with PCRE JIT).'],
      }),
    ],
    Install: [['WantedBy', 'multi-user.target']],
  }),
};
