import source from '../../../templates/nginx/nginx.conf.hbs?raw';
import { renderTemplate } from '../../render/templates.js';
import type { LbModel } from '../lb-model.js';
import { acmePaths } from '../lb-model.js';
import { HSTS, MOZILLA_GUIDELINE, TLS12_CIPHERS } from '../tls.js';

const POLICY: Record<LbModel['policy'], string | undefined> = {
  'least-conn': 'least_conn',
  'round-robin': undefined,
  'ip-hash': 'ip_hash',
  random: 'random two least_conn',
};

/** nginx.conf for any platform: compose/swarm run the official image, hosts run Debian's nginx. */
export function renderNginx(m: LbModel, header: string): string {
  const container = m.platform !== 'hosts';
  const servers = m.upstreams.kind === 'static' ? m.upstreams.servers : [];
  return renderTemplate(source, {
    header: header.trimEnd(),
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
  });
}
