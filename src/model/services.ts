/** Facts about services that every platform shares: ports, packages and descriptions. */
import type { Spec } from '../spec/schema.js';
import type { ModelPort } from './types.js';

/** The TLS helper script (placeholder certificate, certbot hooks, HAProxy's one PEM) is needed. */
export function needsTlsScript(spec: Spec): boolean {
  const { kind, tls } = spec.loadBalancer;
  return (tls === 'acme' && kind !== 'caddy') || (tls === 'files' && kind === 'haproxy');
}

/** The load balancer's listeners; `statsBind` is where HAProxy's stats page listens. */
export function lbPorts(spec: Spec, statsBind: string): ModelPort[] {
  const lb = spec.loadBalancer;
  const ports: ModelPort[] = [{ port: lb.httpPort, proto: 'tcp', bind: '0.0.0.0', exposure: 'public', what: lb.tls === 'none' ? 'HTTP' : 'HTTP (redirects to HTTPS)' }];
  if (lb.tls !== 'none') ports.push({ port: lb.httpsPort, proto: 'tcp', bind: '0.0.0.0', exposure: 'public', what: 'HTTPS' });
  if (lb.kind === 'haproxy') {
    ports.push({ port: lb.statsPort, proto: 'tcp', bind: statsBind, exposure: statsBind === '127.0.0.1' ? 'localhost' : 'internal', what: 'HAProxy stats (password in .env)' });
  }
  return ports;
}

/** Debian packages an lb host needs. socat: deploy/rolling-update.sh drains through HAProxy's socket. */
export function lbPackages(spec: Spec): string[] {
  const kind = spec.loadBalancer.kind;
  return [kind, ...(kind === 'haproxy' ? ['socat'] : []), ...(needsTlsScript(spec) ? ['openssl'] : [])];
}

export function storageWhat(spec: Spec): string {
  return {
    s3: 'MinIO (S3 API) for uploads and backups',
    nfs: 'NFS export for uploads',
    glusterfs: 'GlusterFS replicated volume for uploads',
    local: 'uploads volume on this server',
  }[spec.storage.kind];
}

export const dbWhat = (spec: Spec) => ({ none: 'PostgreSQL', streaming: 'PostgreSQL (streaming replication)', patroni: 'PostgreSQL managed by Patroni' })[spec.database.ha];
