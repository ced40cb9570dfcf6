import type { Spec, Upstreams } from '../render/context.js';

/** Everything the three load-balancer templates need, in the same words for each. */
export interface LbModel {
  /** Deployment name (spec.name). */
  name: string;
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

/**
 * Seconds a read (GET, HEAD, OPTIONS) waits for an instance's answer before the load balancer tries
 * it on another instance. An app host that loses power sends no reset: a request it already had
 * would otherwise wait out the 60 s server timeout (a client gave up long before: 1 in 9 whole-host
 * runs lost one). The app answers reads in milliseconds; 5 s leaves room for a slow query while
 * keeping such a request under ~5 s. Writes keep the long timeout and are never re-sent once an
 * instance may have run them (a retried POST can store an item or upload twice).
 */
export const LB_READ_TIMEOUT_S = 5;

/**
 * Certificates with tls: acme for nginx and HAProxy. certbot keeps its own copy under
 * /etc/letsencrypt; its deploy hook installs each new one where the load balancer reads it
 * (nginx: chain + key; HAProxy: one PEM with both), so the LB can start on a self-signed
 * placeholder before the first certificate exists without confusing certbot's live/ folder.
 */
export function acmePaths(domain: string): { live: string; cert: string; key: string; combined: string; webroot: string; certbotPort: number } {
  return {
    live: `/etc/letsencrypt/live/${domain}`,
    cert: `/etc/nginx/tls/${domain}/fullchain.pem`,
    key: `/etc/nginx/tls/${domain}/privkey.pem`,
    combined: `/etc/haproxy/certs/${domain}.pem`,
    webroot: '/var/www/certbot',
    certbotPort: 8888,
  };
}

/** HAProxy reads certificate and key from one PEM: with tls: files it is built from the two spec paths. */
export const haproxyFilesPem = (name: string) => `/etc/haproxy/certs/${name}.pem`;

export function lbModel(spec: Spec, upstreams: Upstreams, configDir: string): LbModel {
  const lb = spec.loadBalancer;
  const acme = lb.tls === 'acme' && spec.domain ? acmePaths(spec.domain) : undefined;
  return {
    name: spec.name,
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
