import source from '../../../templates/haproxy/haproxy.cfg.hbs?raw';
import { renderTemplate } from '../../render/templates.js';
import type { Spec } from '../../spec/schema.js';
import type { LbModel } from '../lb-model.js';
import type { LoadBalancer, LbRenderOptions } from '../lb/types.js';
import { tlsScriptPath } from '../../model/constants.js';
import { envFilePath, sandbox } from '../systemd/index.js';
import { acmePaths, haproxyFilesPem, LB_READ_TIMEOUT_S } from '../lb-model.js';
import { HSTS, MOZILLA_GUIDELINE, TLS12_CIPHERS, TLS13_SUITES } from '../tls-profile.js';

const BALANCE: Record<LbModel['policy'], { balance: string; hashType?: string }> = {
  'least-conn': { balance: 'leastconn' },
  'round-robin': { balance: 'roundrobin' },
  'ip-hash': { balance: 'source', hashType: 'consistent' },
  random: { balance: 'random(2)' },
};

export function sizeToBytes(size: string): number {
  const n = Number(size.slice(0, -1));
  const unit = size.slice(-1);
  return n * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : 1024 ** 3);
}

/** haproxy.cfg for the app load balancer, any platform. */
export function renderHaproxy(m: LbModel, header: string, opts: LbRenderOptions): string {
  const container = m.platform !== 'hosts';
  const b = BALANCE[m.policy];
  return renderTemplate(source, {
    header: header.trimEnd(),
    configDir: m.configDir,
    container,
    resolver: container ? '127.0.0.11' : undefined,
    tls: m.tls !== 'none',
    acme: m.tls === 'acme',
    tlsGuideline: MOZILLA_GUIDELINE,
    tlsCiphers: TLS12_CIPHERS.join(':'),
    tlsSuites: TLS13_SUITES.join(':'),
    hsts: HSTS,
    httpPort: m.httpPort,
    httpsPort: m.httpsPort,
    // HAProxy wants the certificate and key in one PEM: certbot's deploy hook builds it (acme), the
    // unit's ExecStartPre or the container's command builds it from the spec's two files (files).
    certFile: m.tls === 'acme' && m.domain ? acmePaths(m.domain).combined : haproxyFilesPem(m.name),
    lbHealthPath: m.lbHealthPath,
    maxBodyBytes: sizeToBytes(m.maxBodySize),
    balance: b.balance,
    hashType: b.hashType,
    healthPath: m.healthPath,
    readTimeout: `${LB_READ_TIMEOUT_S}s`,
    dns: m.upstreams.kind === 'dns',
    dnsName: m.upstreams.kind === 'dns' ? m.upstreams.name : '',
    dnsService: m.upstreams.kind === 'dns' ? m.upstreams.name.replace(/^tasks\./, '') : '',
    dnsCount: m.upstreams.kind === 'dns' ? m.upstreams.count : 0,
    appPort: m.appPort,
    servers: m.upstreams.kind === 'static' ? m.upstreams.servers : [],
    certbotAddress: opts.certbotAddress ?? '127.0.0.1:8888',
    statsBind: opts.statsBind,
    statsPort: m.statsPort,
    metricsBind: opts.metrics?.bind,
    metricsPort: opts.metrics?.port,
  });
}

const CONFIG = '/etc/haproxy/haproxy.cfg';

export const haproxy: LoadBalancer = {
  kind: 'haproxy',
  summary: 'Active health checks, stats page, the fastest failover here',
  image: 'haproxy:2.8',
  // socat: deploy/rolling-update.sh drains servers through HAProxy's stats socket.
  packages: ['haproxy', 'socat'],
  statsPage: true,
  containerVolumes: {},
  containerUser: 'root',
  tlsHelper: {
    singlePem: true,
    webroot: false,
    certDir: () => '/etc/haproxy/certs',
    watched: (p) => p.combined,
  },
  hosts: { config: CONFIG, dir: '/etc/haproxy' },
  container: {
    file: 'haproxy/haproxy.cfg',
    mount: '/usr/local/etc/haproxy/haproxy.cfg',
    dir: '/usr/local/etc/haproxy',
    start: (f) => `exec haproxy -W -db -f ${f}`,
    // Master-worker: USR2 makes the master (PID 1) re-read its -f file and start new workers; the old
    // ones finish their connections.
    reload: () => 'kill -USR2 1',
    test: (f) => `haproxy -c -q -f ${f}`,
  },
  render: renderHaproxy,
  testCommand: '/usr/sbin/haproxy -c -q -f $config.next',
  unit: (spec: Spec) => {
    const tls = spec.loadBalancer.tls;
    const script = tlsScriptPath(spec.name);
    return {
      Unit: [['Description', `haproxy load balancer for ${spec.name} (ha-gen)`], ['After', 'network-online.target'], ['Wants', 'network-online.target']],
      Service: [
        ['Type', 'notify'],
        ['EnvironmentFile', envFilePath(spec.name, 'haproxy')],
        ['RuntimeDirectory', 'haproxy'],
        // acme: a self-signed placeholder lets HAProxy start before certbot has the first certificate;
        // files: the spec's certificate and key become the one PEM HAProxy reads, at start and reload.
        ...(tls === 'acme' ? ([['ExecStartPre', `${script} placeholder`]] as Array<[string, string]>) : []),
        ...(tls === 'files' ? ([['ExecStartPre', `${script} combine`]] as Array<[string, string]>) : []),
        ['ExecStartPre', `/usr/sbin/haproxy -c -q -f ${CONFIG}`],
        ['ExecStart', `/usr/sbin/haproxy -Ws -f ${CONFIG} -p /run/haproxy.pid`],
        ...(tls === 'files' ? ([['ExecReload', `${script} combine`]] as Array<[string, string]>) : []),
        ['ExecReload', `/usr/sbin/haproxy -c -q -f ${CONFIG}`],
        ['ExecReload', '/bin/kill -USR2 $MAINPID'],
        ['KillMode', 'mixed'],
        ['Restart', 'always'],
        ['RestartSec', '1s'],
        // Starts as root to bind the ports and read the certificate, then chroots and runs as haproxy.
        ...sandbox({ system: 'full', caps: ['CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SYS_CHROOT', 'CAP_CHOWN'], syscalls: ['chroot'] }),
      ],
      Install: [['WantedBy', 'multi-user.target']],
    };
  },
};
