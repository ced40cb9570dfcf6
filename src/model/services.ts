/** Facts about services that every platform shares: ports, packages and descriptions. */
import type { Spec } from '../spec/schema.js';
import type { ModelPort } from './types.js';
import { loadBalancerOf, needsTlsScript } from '../targets/lb/index.js';

export { needsTlsScript };


/** The load balancer's listeners; `statsBind` is where HAProxy's stats page listens. */
export function lbPorts(spec: Spec, statsBind: string): ModelPort[] {
  const lb = spec.loadBalancer;
  const ports: ModelPort[] = [{ port: lb.httpPort, proto: 'tcp', bind: '0.0.0.0', exposure: 'public', what: lb.tls === 'none' ? 'HTTP' : 'HTTP (redirects to HTTPS)' }];
  if (lb.tls !== 'none') ports.push({ port: lb.httpsPort, proto: 'tcp', bind: '0.0.0.0', exposure: 'public', what: 'HTTPS' });
  if (loadBalancerOf(spec).statsPage) {
    ports.push({ port: lb.statsPort, proto: 'tcp', bind: statsBind, exposure: statsBind === '127.0.0.1' ? 'localhost' : 'internal', what: 'HAProxy stats (password in .env)' });
  }
  return ports;
}

/** Debian packages an lb host needs: the LB's own, and openssl for the TLS helper. */
export function lbPackages(spec: Spec): string[] {
  return [...loadBalancerOf(spec).packages, ...(needsTlsScript(spec) ? ['openssl'] : [])];
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
