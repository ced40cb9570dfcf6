/**
 * Platform hosts: what runs where. Each target adds its services to a HostsPlan; the hosts target
 * then writes every host's folder (hosts/<host>/ mirrors the host's /) and one deploy.sh from it.
 */
import type { Host, Spec } from '../../spec/schema.js';
import { hostsWith } from '../../spec/resolve.js';

export interface EnvEntry {
  /** Variable name in the unit's EnvironmentFile. */
  name: string;
  /** Shell expression deploy.sh evaluates with .env loaded, e.g. "$JWT_SECRET" or a composed URL. */
  value: string;
}

export interface HostService {
  /** systemd unit name without .service (or with .mount); '' for setup steps that start no unit. */
  unit: string;
  /** Start order: lower first (storage 10, etcd 20, db 30, db endpoint 40, app 50, lb 60). */
  order: number;
  /** Secrets file the unit reads (EnvironmentFile=), written by deploy.sh with mode 0600. */
  envFile?: { path: string; entries: EnvEntry[] };
  /** Commands deploy.sh runs on the host after copying the files, before starting units (idempotent). */
  before?: string[];
  /** Commands deploy.sh runs on the host after the service is up (idempotent). */
  after?: string[];
  /** Packages the host needs (Debian names), installed by deploy.sh. */
  packages?: string[];
}

export interface HostsPlan {
  services: Map<string, HostService[]>;
}

export function newHostsPlan(spec: Spec): HostsPlan {
  return { services: new Map(spec.hosts.map((h) => [h.name, []])) };
}

export function addService(plan: HostsPlan, host: Host, svc: HostService): void {
  plan.services.get(host.name)!.push(svc);
}

export const hostFile = (host: Host, absPath: string) => `hosts/${host.name}${absPath}`;

/** pg_hba / allow-list form of an inventory address: a /32 for IPv4, the name otherwise. */
export const hostCidr = (address: string) => (/^[0-9.]+$/.test(address) ? `${address}/32` : address);

export function topology(spec: Spec) {
  return {
    lb: hostsWith(spec, 'lb'),
    app: hostsWith(spec, 'app'),
    db: hostsWith(spec, 'db'),
    etcd: hostsWith(spec, 'etcd'),
    storage: hostsWith(spec, 'storage'),
  };
}
