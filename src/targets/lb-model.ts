import type { Spec, Upstreams } from '../render/context.js';

/** Everything the three load-balancer templates need, in the same words for each. */
export interface LbModel {
  platform: Spec['platform'];
  upstreams: Upstreams;
  httpPort: number;
  httpsPort: number;
  statsPort: number;
  tls: Spec['loadBalancer']['tls'];
  domain: string | undefined;
  policy: Spec['loadBalancer']['policy'];
  healthPath: string;
  appPort: number;
  maxBodySize: string;
  certFile: string;
  keyFile: string;
  acmeEmail: string | undefined;
  /** Where the config lives on the LB (container or host). */
  configDir: string;
  /** Health endpoint of the load balancer itself, for an outer load balancer or DNS failover. */
  lbHealthPath: string;
}

export const LB_HEALTH_PATH = '/lb-health';

/** Where certbot (nginx, HAProxy with tls: acme) keeps the certificate for the domain. */
export function acmePaths(domain: string): { cert: string; key: string; combined: string; webroot: string } {
  return {
    cert: `/etc/letsencrypt/live/${domain}/fullchain.pem`,
    key: `/etc/letsencrypt/live/${domain}/privkey.pem`,
    combined: `/etc/haproxy/certs/${domain}.pem`,
    webroot: '/var/www/certbot',
  };
}

export function lbModel(spec: Spec, upstreams: Upstreams, configDir: string): LbModel {
  const lb = spec.loadBalancer;
  const acme = lb.tls === 'acme' && spec.domain ? acmePaths(spec.domain) : undefined;
  return {
    platform: spec.platform,
    upstreams,
    httpPort: lb.httpPort,
    httpsPort: lb.httpsPort,
    statsPort: lb.statsPort,
    tls: lb.tls,
    domain: spec.domain,
    policy: lb.policy,
    healthPath: spec.app.healthPath,
    appPort: spec.app.port,
    maxBodySize: spec.app.maxBodySize,
    certFile: acme ? acme.cert : lb.certFile,
    keyFile: acme ? acme.key : lb.keyFile,
    acmeEmail: lb.acmeEmail,
    configDir,
    lbHealthPath: LB_HEALTH_PATH,
  };
}
