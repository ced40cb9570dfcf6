/**
 * The bundle's private CA (platform hosts): which certificates the services need, where each lands on
 * a host and who may read it. Rendering only names them (pure data, `bundle.pki`); `ha-gen generate`
 * creates the missing ones at the edge (write/pki.ts, with openssl) under `pki/` next to `.env`:
 * mode 0600, git-ignored, never in the manifest, never compared by `generate --check`. Files put
 * there by the user (their own CA) are kept as they are.
 */
import type { CertRequest } from '../render/bundle.js';
import { isIpv4 } from '../model/constants.js';

export type { CertRequest } from '../render/bundle.js';

export { PKI_DIR } from './env/index.js';
export const CA_CERT = 'ca.crt';
export const CA_KEY = 'ca.key';

/** A host's certificate: its name and address (etcd checks a peer's address against its SANs), and loopback for local checks. */
export function hostCert(scope: string, prefix: string, host: { name: string; address: string }): CertRequest {
  return certRequest(scope, prefix, host.name, [`DNS:${host.name}`, isIpv4(host.address) ? `IP:${host.address}` : `DNS:${host.address}`]);
}

/** A certificate named NAME, for SANS plus loopback (each service's own local checks). */
function certRequest(scope: string, prefix: string, name: string, sans: string[]): CertRequest {
  // The CN is not a user name etcd knows ("root", "patroni"): with client-cert-auth etcd would take it as one.
  return { name: `${prefix}${name}`, cn: `${scope}-${name}`, sans: [...new Set([...sans, 'DNS:localhost', 'IP:127.0.0.1'])] };
}

/** Where a service finds the CA, its certificate and its key on a host. */
export const tlsPaths = (dir: string) => ({ dir, ca: `${dir}/ca.crt`, cert: `${dir}/host.crt`, key: `${dir}/host.key` });
export const ETCD_TLS = tlsPaths('/etc/etcd/pki');
export const PATRONI_TLS = tlsPaths('/etc/patroni/pki');
/** The CA alone, for clients of Patroni's REST API: the database endpoint's HAProxy and Prometheus. */
export const DB_ENDPOINT_TLS = tlsPaths('/etc/haproxy/pki');
export const PROMETHEUS_TLS = tlsPaths('/etc/prometheus/pki');
export const DB_ENDPOINT_CA = DB_ENDPOINT_TLS.ca;
export const PROMETHEUS_CA = PROMETHEUS_TLS.ca;

/** A file deploy.sh copies from pki/ onto a host: the key readable by its service's user only. */
export interface PkiInstall {
  /** pki/-relative source. */
  src: string;
  path: string;
  owner: string;
  mode: '0600' | '0644';
}

/** The CA certificate only (world-readable: a client that verifies servers holds no key). */
export const caInstall = (path: string): PkiInstall => ({ src: CA_CERT, path, owner: 'root', mode: '0644' });

/** The CA certificate, a host's certificate and its key, for one service user on that host. */
export function pkiInstalls(certName: string, p: ReturnType<typeof tlsPaths>, owner: string): PkiInstall[] {
  return [
    { src: CA_CERT, path: p.ca, owner: 'root', mode: '0644' },
    { src: `${certName}.crt`, path: p.cert, owner: 'root', mode: '0644' },
    { src: `${certName}.key`, path: p.key, owner, mode: '0600' },
  ];
}

/**
 * A container's certificate (compose, swarm): the names the other services reach it by (its service
 * name; on Swarm also tasks.<name>), and loopback for its own health check. etcd checks a peer's
 * address against these names (they resolve to the container through Docker's DNS).
 */
export function containerCert(scope: string, prefix: string, service: string, aliases: string[] = []): CertRequest {
  return certRequest(scope, prefix, service, [service, ...aliases].map((a) => `DNS:${a}`));
}

/** A pki/ file as a container sees it: at `path`, owned by uid:gid, with `mode`. */
export interface ContainerPkiFile {
  /** pki/-relative source. */
  src: string;
  path: string;
  uid: number;
  mode: 0o444 | 0o400;
}

/** The pki/ files one container service needs (compose: its own volume; swarm: secrets). */
export interface ContainerPkiUse {
  service: string;
  /** The folder they land in (the service's own, as on hosts). */
  dir: string;
  files: ContainerPkiFile[];
}

/** The CA, a certificate and its key for a service running as `uid`: the key readable by that uid only. */
export function containerPkiFiles(certName: string, p: ReturnType<typeof tlsPaths>, uid: number): ContainerPkiFile[] {
  return [
    { src: CA_CERT, path: p.ca, uid: 0, mode: 0o444 },
    { src: `${certName}.crt`, path: p.cert, uid: 0, mode: 0o444 },
    { src: `${certName}.key`, path: p.key, uid, mode: 0o400 },
  ];
}
